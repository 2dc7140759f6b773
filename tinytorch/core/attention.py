"""Module 12, attention: multi-head attention, and the hooks a positional scheme uses inside it.

The fused op lives in `scaled_dot_product.py`, the KV cache in `kv_cache.py`; both are
re-exported here, the import path of the TinyTorch module map. Positional schemes that act inside
attention (RoPE, ALiBi) are defined with the other encodings in `tinytorch/text/positions.py`;
this module only states what attention asks of them (`AttentionPositions`), so the core never
imports from the text layer above it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core.checks import check_fraction, check_positive
from tinytorch.core.kv_cache import KVCache
from tinytorch.core.layers import Linear
from tinytorch.core.module import Module
from tinytorch.core.scaled_dot_product import (
    additive_mask,
    as_mask_array,
    attend,
    check_mask_shape,
    scaled_dot_product_attention,
)
from tinytorch.core.shape_ops import concatenate
from tinytorch.core.tensor import Tensor, as_tensor

__all__ = ["AttentionPositions", "KVCache", "MultiHeadAttention", "scaled_dot_product_attention"]


class AttentionPositions(Module):
    """What a positional scheme does inside attention; both hooks default to "nothing".

    `rotate(x, offset)` transforms queries and keys (batch, heads, T, head_dim) sitting at
    positions offset..offset+T-1 (RoPE); `score_bias(q_len, k_len, offset)` returns an additive
    bias broadcastable to (heads, q_len, k_len) for queries at offset.. and keys at 0.. (ALiBi),
    or None.
    """

    def rotate(self, x: Tensor, offset: int) -> Tensor:
        return x

    def score_bias(self, q_len: int, k_len: int, offset: int) -> np.ndarray | None:
        return None


class MultiHeadAttention(Module):
    """Multi-head attention with separate q/k/v projections (names match PyTorch checkpoints).

    `positions`: where a positional scheme acts inside attention (`RotaryEmbedding`, `ALiBi` from
    `tinytorch.text.positions`), or None; positions continue from a KV cache's length.
    `batch_first=True` expects (batch, seq, feature) inputs; False expects (seq, batch, feature).

    Mask conventions (docs/design.md): `key_padding_mask` is bool (batch, Lk) with True = real
    token, the same as a tokenizer's `attention_mask` -- the OPPOSITE of
    `torch.nn.MultiheadAttention`, whose `key_padding_mask` marks positions to ignore. `attn_mask`
    is bool (True = may attend) or float (additive) of shape (Lq, Lk) (every batch element and
    head), (batch * heads, Lq, Lk) (PyTorch's 3-D layout, batch-major), or 4-D broadcastable to
    (batch, heads, Lq, Lk); torch's MHA bool masks mean "ignore" instead. `is_causal=True` adds a
    causal mask aligned bottom-right (query i of Lq sits at absolute position Lk - Lq + i, which
    is what a KV cache needs) and may be combined with the other masks; for any other alignment
    pass an explicit attn_mask.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        positions: AttentionPositions | None = None,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = True,
    ) -> None:
        super().__init__()
        check_positive(embed_dim=embed_dim, num_heads=num_heads)
        if embed_dim % num_heads:
            raise ValueError(
                f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})"
            )
        check_fraction("dropout", dropout)
        if positions is not None and not isinstance(positions, AttentionPositions):
            raise TypeError(
                f"positions must be an AttentionPositions (e.g. RotaryEmbedding, ALiBi) or None, "
                f"got {type(positions).__name__}"
            )
        head_dim = embed_dim // num_heads
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first must be a bool, got {batch_first!r}")
        kdim = embed_dim if kdim is None else kdim
        vdim = embed_dim if vdim is None else vdim
        check_positive(kdim=kdim, vdim=vdim)
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, head_dim
        self.kdim, self.vdim, self.dropout = kdim, vdim, float(dropout)
        self.batch_first = batch_first
        self.q_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.k_proj = Linear(kdim, embed_dim, bias=bias)
        self.v_proj = Linear(vdim, embed_dim, bias=bias)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        self.positions = positions

    def _split_heads(self, x: Tensor) -> Tensor:
        """(B, T, E) -> (B, H, T, hd): a strided view that batched matmul consumes directly."""
        batch, length, _ = x.shape
        return x.reshape(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def _check_inputs(self, query: Tensor, key: Tensor, value: Tensor) -> None:
        for name, t, dim in (
            ("query", query, self.embed_dim),
            ("key", key, self.kdim),
            ("value", value, self.vdim),
        ):
            if t.ndim != 3 or t.shape[-1] != dim:
                layout = "(batch, seq, " if self.batch_first else "(seq, batch, "
                raise ValueError(
                    f"{name} must have shape {layout}{dim}) for embed_dim={self.embed_dim}, "
                    f"got {t.shape}"
                )
        if key.shape[:2] != value.shape[:2] or key.shape[0] != query.shape[0]:
            raise ValueError(
                f"query {query.shape}, key {key.shape} and value {value.shape} must share the "
                "batch size, and key and value the length"
            )

    def _bias(
        self,
        batch: int,
        q_len: int,
        k_len: int,
        offset: int,
        key_padding_mask: Any,
        attn_mask: Any,
        dtype: np.dtype,
    ) -> np.ndarray | None:
        """Padding, attn_mask and position bias as one additive bias for (B, H, Lq, Lk)."""
        parts = []
        if key_padding_mask is not None:
            padding = np.asarray(
                key_padding_mask.data if isinstance(key_padding_mask, Tensor) else key_padding_mask
            )
            if padding.dtype != np.bool_:
                raise TypeError(
                    f"key_padding_mask must be bool (True = real token), got dtype {padding.dtype}"
                )
            if padding.shape != (batch, k_len):
                raise ValueError(
                    f"key_padding_mask must have shape (batch, key_len) = {(batch, k_len)}, "
                    f"got {padding.shape}"
                )
            parts.append(additive_mask(padding[:, None, None, :], dtype))
        if attn_mask is not None:
            parts.append(self._attn_mask_bias(attn_mask, batch, q_len, k_len, dtype))
        position_bias = None if self.positions is None else self.positions.score_bias(
            q_len, k_len, offset
        )
        if position_bias is not None:
            parts.append(position_bias.astype(dtype, copy=False))
        if not parts:
            return None
        bias = parts[0]
        for part in parts[1:]:
            bias = bias + part
        return bias

    def _attn_mask_bias(
        self, attn_mask: Any, batch: int, q_len: int, k_len: int, dtype: np.dtype
    ) -> np.ndarray:
        """attn_mask as an additive (..., Lq, Lk) bias; a 3-D mask is PyTorch's (B * H, Lq, Lk).

        A (B, Lq, Lk) mask would broadcast against (B, H, Lq, Lk) as if its first axis were the
        heads whenever B == H, so 3-D masks have exactly one meaning and other shapes are refused.
        """
        mask = as_mask_array(attn_mask, "attn_mask", dtype)
        heads = self.num_heads
        if mask.ndim == 3:
            if mask.shape != (batch * heads, q_len, k_len):
                raise ValueError(
                    f"a 3-D attn_mask must have shape (batch * num_heads, q_len, k_len) = "
                    f"{(batch * heads, q_len, k_len)} as in PyTorch, got {mask.shape}; use "
                    f"shape ({batch}, 1, {q_len}, {k_len}) for one mask per batch element"
                )
            mask = mask.reshape(batch, heads, q_len, k_len)
        full = (batch, heads, q_len, k_len)
        check_mask_shape(mask, full, f"(batch, heads, q_len, k_len) = {full}")
        return additive_mask(mask, dtype)

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        key_padding_mask: Any = None,
        attn_mask: Any = None,
        is_causal: bool = False,
        need_weights: bool = False,
        kv_cache: KVCache | None = None,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Self-attention when `key`/`value` are None, cross-attention otherwise.

        `value` defaults to `key`. With `kv_cache` (self-attention only) the new keys/values are
        appended to the cache and the queries attend to everything cached; positions (rope, alibi,
        causal mask) continue from `kv_cache.length`. Gradients reach the current step's keys and
        values, not earlier steps' (those graphs are gone). `need_weights=True` also returns the
        per-head weights (B, H, Lq, Lk), without gradient.
        """
        if kv_cache is not None and (key is not None or value is not None):
            raise ValueError("kv_cache is for self-attention: pass key=None and value=None")
        query = as_tensor(query)
        key = query if key is None else as_tensor(key)
        value = key if value is None else as_tensor(value)
        if not self.batch_first:
            query, key, value = (
                t.transpose(0, 1) if t.ndim == 3 else t for t in (query, key, value)
            )
        self._check_inputs(query, key, value)
        batch, q_len, _ = query.shape
        q = self._split_heads(self.q_proj(query))
        k = self._split_heads(self.k_proj(key))
        v = self._split_heads(self.v_proj(value))
        offset = 0 if kv_cache is None else kv_cache.length
        if self.positions is not None:
            q, k = self.positions.rotate(q, offset), self.positions.rotate(k, offset)
        k_len = offset + k.shape[2]
        bias = self._bias(batch, q_len, k_len, offset, key_padding_mask, attn_mask, q.dtype)
        if kv_cache is not None:  # after validating everything, so a bad call leaves it intact
            keys, values = kv_cache.append(k.data, v.data)
            if k.requires_grad or v.requires_grad:
                k = concatenate([Tensor._wrap(keys[:, :, :offset]), k], axis=2)
                v = concatenate([Tensor._wrap(values[:, :, :offset]), v], axis=2)
            else:
                k, v = Tensor._wrap(keys), Tensor._wrap(values)
        # Bottom-right causal alignment: the queries are the LAST q_len of k_len positions (with
        # a cache, query i sits at absolute position k_len - q_len + i). Without a cache
        # q_len == k_len and this is the usual lower triangle.
        causal_offset = k_len - q_len if is_causal else None
        dropout_p = self.dropout if self.training else 0.0
        scale = 1.0 / math.sqrt(self.head_dim)
        attended = attend(q, k, v, bias, causal_offset, scale, dropout_p, need_weights)
        weights = None
        if need_weights:
            attended, weights = attended
        merged = attended.transpose(1, 2).reshape(batch, q_len, self.embed_dim)
        out = self.out_proj(merged)
        if not self.batch_first:
            out = out.transpose(0, 1)
        return (out, weights) if need_weights else out

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"
