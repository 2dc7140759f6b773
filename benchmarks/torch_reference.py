"""A PyTorch twin of tinytorch's GPT with the same module names, so state dicts map 1:1.

Shared by the GPT parity tests (as the oracle) and by the benchmarks (as the code we race):
pre-norm blocks, separate q/k/v projections, tanh-GELU MLP 4x, learned positions,
`scaled_dot_product_attention(is_causal=True)`, a final LayerNorm and an optionally tied head.
"""

from __future__ import annotations

import torch
from torch import nn


class TorchAttention(nn.Module):
    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q_proj = nn.Linear(embed_dim, embed_dim)
        self.k_proj = nn.Linear(embed_dim, embed_dim)
        self.v_proj = nn.Linear(embed_dim, embed_dim)
        self.out_proj = nn.Linear(embed_dim, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, e = x.shape

        def heads(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.num_heads, e // self.num_heads).transpose(1, 2)

        q, k, v = heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        out = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out_proj(out.transpose(1, 2).reshape(b, t, e))


class TorchBlock(nn.Module):
    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(embed_dim)
        self.attn = TorchAttention(embed_dim, num_heads)
        self.ln_2 = nn.LayerNorm(embed_dim)
        self.mlp = nn.Sequential(
            nn.Linear(embed_dim, 4 * embed_dim),
            nn.GELU(approximate="tanh"),
            nn.Linear(4 * embed_dim, embed_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TorchPositions(nn.Module):
    def __init__(self, max_seq_len: int, embed_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(max_seq_len, embed_dim))


class TorchEmbeddingLayer(nn.Module):
    def __init__(self, vocab_size: int, embed_dim: int, max_seq_len: int) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, embed_dim)
        self.position_encoding = TorchPositions(max_seq_len, embed_dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.token_embedding(ids) + self.position_encoding.weight[: ids.shape[1]]


class TorchGPT(nn.Module):
    """GPT-2 structure: learned positions, pre-norm blocks, final LayerNorm, head tied or not."""

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        num_layers: int,
        num_heads: int,
        max_seq_len: int,
        tie_weights: bool,
    ) -> None:
        super().__init__()
        self.embedding = TorchEmbeddingLayer(vocab_size, embed_dim, max_seq_len)
        self.blocks = nn.ModuleList(TorchBlock(embed_dim, num_heads) for _ in range(num_layers))
        self.ln_f = nn.LayerNorm(embed_dim)
        self.lm_head = nn.Linear(embed_dim, vocab_size, bias=False)
        if tie_weights:
            self.lm_head.weight = self.embedding.token_embedding.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embedding(ids)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))
