"""Module 13, transformer: the pre-norm decoder block and a GPT language model built from it.

Structure and initialisation follow GPT-2 as reproduced by nanoGPT (pre-norm blocks, tanh GELU,
N(0, 0.02) weights, residual projections scaled by 1/sqrt(2 * num_layers), a final LayerNorm and
an output head tied to the token embedding), with separate q/k/v projections so a `state_dict`
maps by name onto an equivalent PyTorch model.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core.attention import AttentionPositions, KVCache, MultiHeadAttention
from tinytorch.core.autograd import no_grad
from tinytorch.core.containers import ModuleList, Sequential
from tinytorch.core.layers import GELU, Dropout, LayerNorm, Linear, ReLU
from tinytorch.core.losses import cross_entropy
from tinytorch.core.module import Module
from tinytorch.core.random import default_generator, initializing
from tinytorch.core.tensor import Tensor
from tinytorch.models.generation import generate
from tinytorch.models.gpt_config import GPTConfig
from tinytorch.models.hf_gpt2 import load_gpt2
from tinytorch.text.embeddings import Embedding, EmbeddingLayer
from tinytorch.text.lookup import token_id_array
from tinytorch.text.positions import position_scheme

_ACTIVATION_MODULES = {
    "gelu_tanh": lambda: GELU(approximate="tanh"),
    "gelu": GELU,
    "relu": ReLU,
}


class TransformerBlock(Module):
    """Pre-norm causal block: `x += attn(ln_1(x))`, then `x += mlp(ln_2(x))`.

    Normalising before each sub-layer keeps the residual stream an identity path, which is what
    lets deep stacks train without warm-up tricks (GPT-2, Xiong et al. 2020). `positions` is what
    the model's positional scheme does inside attention (RoPE, ALiBi), or None.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        positions: AttentionPositions | None = None,
        mlp_hidden_dim: int | None = None,
        activation: str = "gelu_tanh",
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        hidden = 4 * embed_dim if mlp_hidden_dim is None else mlp_hidden_dim
        if activation not in _ACTIVATION_MODULES:
            raise ValueError(
                f"activation must be one of {list(_ACTIVATION_MODULES)}, got {activation!r}"
            )
        self.ln_1 = LayerNorm(embed_dim, eps=layer_norm_eps)
        self.attn = MultiHeadAttention(embed_dim, num_heads, dropout, positions=positions)
        self.resid_dropout = Dropout(dropout)
        self.ln_2 = LayerNorm(embed_dim, eps=layer_norm_eps)
        self.mlp = Sequential(
            Linear(embed_dim, hidden),
            _ACTIVATION_MODULES[activation](),
            Linear(hidden, embed_dim),
            Dropout(dropout),
        )

    def forward(self, x: Tensor, kv_cache: KVCache | None = None) -> Tensor:
        x = x + self.resid_dropout(self.attn(self.ln_1(x), is_causal=True, kv_cache=kv_cache))
        return x + self.mlp(self.ln_2(x))


class GPT(Module):
    """A decoder-only language model: ids (B, T) -> next-token logits (B, T, vocab_size).

    Built from a `GPTConfig` (`GPT(config)`), or from GPTConfig's arguments directly
    (`GPT(vocab_size, embed_dim, num_layers, num_heads, max_seq_len, pos_encoding=...)`).
    `pos_encoding` names a scheme of `tinytorch.text.positions`: "learned" (GPT-2) and
    "sinusoidal" tables limit sequences to `max_seq_len`; "rope" and "alibi" act inside attention
    and work at any length; "none" uses no positions. With `tie_weights` the output head reuses
    the token embedding matrix (`lm_head.weight` IS `embedding.token_embedding.weight`), as in
    GPT-2.
    """

    def __init__(self, *args: Any, **settings: Any) -> None:
        super().__init__()
        if len(args) == 1 and not settings and isinstance(args[0], GPTConfig):
            config = args[0]
        else:
            config = GPTConfig(*args, **settings)
        if config.vocab_size is None:
            raise ValueError("vocab_size must be a positive integer, got None")
        self.config = config
        scheme = position_scheme(config.pos_encoding)
        positions = scheme.build_attention(config.embed_dim, config.num_heads)
        self.embedding = EmbeddingLayer(
            config.vocab_size,
            config.embed_dim,
            config.max_seq_len,
            pos_encoding=scheme.name,
            dropout=config.dropout,
        )
        self.blocks = ModuleList(
            TransformerBlock(
                config.embed_dim,
                config.num_heads,
                config.dropout,
                positions=positions,  # parameter-free: one module serves every block
                mlp_hidden_dim=config.hidden_dim,
                activation=config.activation,
                layer_norm_eps=config.layer_norm_eps,
            )
            for _ in range(config.num_layers)
        )
        self.ln_f = LayerNorm(config.embed_dim, eps=config.layer_norm_eps)
        self.lm_head = Linear(config.embed_dim, config.vocab_size, bias=False)
        if initializing():  # else the weights are about to be loaded: redrawing them only costs
            self._init_weights()
        if config.tie_weights:
            self.lm_head.weight = self.embedding.token_embedding.weight

    @classmethod
    def from_pretrained(cls, path: Any, dropout: float | None = None) -> GPT:
        """The GPT of a Hugging Face GPT-2 directory (config.json + model.safetensors, or its
        shards); see `tinytorch.models.hf_gpt2.load_gpt2`. Nothing is downloaded: `path` is a
        local directory. `dropout` overrides config.json's dropout probabilities."""
        return load_gpt2(path, cls, dropout)

    def _init_weights(self) -> None:
        """GPT-2: N(0, 0.02) weights, zero biases; residual projections N(0, 0.02/sqrt(2L)).

        Each block adds two residual branches; scaling their output projections keeps the
        variance of the residual stream from growing with depth.
        """
        rng = default_generator()
        residual_std = 0.02 / math.sqrt(2 * len(self.blocks))
        residual = {id(b.attn.out_proj.weight) for b in self.blocks}
        residual |= {id(b.mlp[2].weight) for b in self.blocks}
        for module in self.modules():
            if isinstance(module, (Linear, Embedding)):
                weight = module.weight
                std = residual_std if id(weight) in residual else 0.02
                weight.data = rng.standard_normal(weight.shape, dtype=np.float32) * std
            if isinstance(module, Linear) and module.bias is not None:
                module.bias.data = np.zeros_like(module.bias.data)

    @property
    def max_seq_len(self) -> int | None:
        """The longest sequence the positions allow (None for rope, alibi, no positions)."""
        return self.embedding.max_seq_len

    def new_kv_caches(self) -> list[KVCache]:
        """One empty cache per block, for incremental decoding with `forward(kv_caches=...)`."""
        return [KVCache() for _ in self.blocks]

    def _hidden(self, ids: Any, kv_caches: list[KVCache] | None) -> Tensor:
        """Final-LayerNorm features (B, T, D) of ids (B, T) placed after the cached positions."""
        offset = 0
        if kv_caches is not None:
            if len(kv_caches) != len(self.blocks):
                raise ValueError(
                    f"kv_caches must hold one KVCache per block ({len(self.blocks)}), "
                    f"got {len(kv_caches)}"
                )
            offset = kv_caches[0].length
        ids = token_id_array(ids)  # their range is checked once, by the embedding
        if ids.ndim != 2 or 0 in ids.shape:
            raise ValueError(
                f"GPT expects ids of shape (batch, seq_len) with batch >= 1 and seq_len >= 1, "
                f"got shape {ids.shape}"
            )
        x = self.embedding(ids, offset=offset)
        for i, block in enumerate(self.blocks):
            x = block(x, None if kv_caches is None else kv_caches[i])
        return self.ln_f(x)

    def forward(
        self, ids: Any, targets: Any = None, kv_caches: list[KVCache] | None = None
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Logits (B, T, V); with `targets` (B, T) also the mean cross-entropy loss.

        `kv_caches` (from `new_kv_caches`) continues a sequence: ids are placed after the cached
        positions and their keys/values are appended to the caches.
        """
        logits = self.lm_head(self._hidden(ids, kv_caches))
        if targets is None:
            return logits
        return logits, cross_entropy(logits, targets)

    @no_grad()
    def next_token_logits(self, ids: Any, kv_caches: list[KVCache] | None = None) -> np.ndarray:
        """Logits (B, V) for the token after the last one; the head runs on that position only."""
        hidden = self._hidden(ids, kv_caches)
        return self.lm_head(hidden[:, -1]).data

    # model.generate(prompt_ids, max_new_tokens, ...) is generation.generate(model, ...): one
    # signature, one docstring (a function assigned in a class body becomes a method).
    generate = generate

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.to_dict().items())
