"""Scaled dot-product attention: the fused op, its masks, and the causal blocks it skips.

Attention is the one op of a transformer whose intermediate (the (Lq, Lk) weight matrix per head)
dominates memory and time, so it is a single fused `Function` with a hand-written backward rather
than a chain of small ops: one graph node, no saved intermediates beyond the weights. A causal
mask is applied per block of queries so the masked upper triangle is mostly never computed.

Masks follow docs/design.md: a boolean mask says where a query MAY attend (True = attend, PyTorch
SDPA convention), a float mask is added to the scores. A query row with nothing to attend to gets a
zero output and a zero gradient, never NaN (PyTorch returns NaN there).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from tinytorch.core.autograd import Function, unbroadcast
from tinytorch.core.checks import is_finite_number
from tinytorch.core.parallel import chunk_count, parallel_map, split_range
from tinytorch.core.random import default_generator
from tinytorch.core.tensor import Tensor, as_tensor

# ------------------------------------------------------------------------------- SDPA
# Smallest block of queries worth its own matmul (measured). 16 rather than 32: a 16-query block
# of a T=256, head_dim=64 head is a product small enough (m*n*k <= 2**18) for OpenBLAS to run in
# the calling thread; bigger ones use BLAS's own threads, which then contend with the threads
# of `parallel_map` (2 threads: 50 ms with 16 rows, 90 ms with 32 for B=8, H=6).
_CAUSAL_BLOCK_ROWS = 16
_MAX_CAUSAL_BLOCKS = 16


def _masked_softmax_(scores: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in place; rows that are entirely -inf become zeros."""
    row_max = scores.max(axis=-1, keepdims=True)
    empty_rows = np.isneginf(row_max)
    if empty_rows.any():
        row_max[empty_rows] = 0.0  # exp(-inf - 0) = 0 instead of exp(-inf + inf) = NaN
    scores -= row_max
    np.exp(scores, out=scores)
    total = np.einsum("...j->...", scores)[..., None]
    if empty_rows.any():
        total[empty_rows] = 1.0  # the row is all zeros already; keep it that way
    scores *= 1.0 / total
    return scores


def _query_blocks(q_len: int, k_len: int, causal_offset: int | None) -> list[tuple[int, int, int]]:
    """(first row, end row, end key) of each block of queries processed together.

    Causal query i sees keys 0..i + causal_offset only, so a block of queries needs only a prefix
    of the keys: n blocks skip about (n - 1) / 2n of the score matrix (its masked upper triangle,
    which PyTorch's fused CPU kernel skips too) at the price of n smaller matmuls.
    """
    if causal_offset is None:
        return [(0, q_len, k_len)]
    count = max(1, min(_MAX_CAUSAL_BLOCKS, q_len // _CAUSAL_BLOCK_ROWS))
    bounds = [q_len * i // count for i in range(count + 1)]
    return [
        (a, b, min(k_len, max(0, b + causal_offset)))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def _mask_causal_(weights: np.ndarray, a: int, k_end: int, causal_offset: int) -> None:
    """Set -inf where query a+r may not see key j (j > a + r + causal_offset), in place.

    Keys up to a + causal_offset are visible to every query of the block, so only the columns
    after them (a square at most as wide as the block) are touched.
    """
    first = max(0, a + causal_offset + 1)
    if first < k_end:
        rows = weights.shape[-2]
        weights[..., first:k_end] += _upper_triangle_bias(
            rows, k_end - first, a + causal_offset - first, weights.dtype
        )


@functools.lru_cache(maxsize=64)
def _upper_triangle_bias(rows: int, cols: int, diagonal: int, dtype: np.dtype) -> np.ndarray:
    """(rows, cols): 0 on and below the `diagonal`-th diagonal, -inf above (read-only, cached:
    the same few shapes recur in every block of every layer)."""
    allowed = np.tri(rows, cols, diagonal, dtype=np.bool_)
    bias = np.where(allowed, dtype.type(0), dtype.type(-np.inf))
    bias.flags.writeable = False
    return bias


def _bias_block(bias: np.ndarray, a: int, b: int, k_end: int) -> np.ndarray:
    """Rows a:b and keys :k_end of a bias broadcastable to (..., Lq, Lk); size-1 axes stay."""
    rows = slice(a, b) if bias.shape[-2] != 1 else slice(None)
    keys = slice(0, k_end) if bias.shape[-1] != 1 else slice(None)
    return bias[..., rows, keys]


class ScaledDotProductAttention(Function):
    """out = dropout(softmax(q k^T * scale + bias, causal)) v, with the gradient in closed form.

    Backward (P = softmax weights, M = dropout keep-mask scaled by 1/(1-p), dO = output grad):
        dv = (P*M)^T dO,   dP = (dO v^T) * M,   dS = P * (dP - rowsum(dO * out)),
        dq = dS k * scale, dk = dS^T q * scale.
    `rowsum(dP * P) == rowsum(dO * out)` (FlashAttention's identity) costs Lq*Ev instead of Lq*Lk.
    Both passes run over the query blocks of `_query_blocks`; only their weights are kept (q, k
    and v are the inputs, alive in the graph anyway). The output is laid out in memory as
    (..., Lq, heads, Ev) and returned as a (..., heads, Lq, Ev) view, so that merging the heads
    back into (batch, Lq, heads * Ev) is a reshape without a copy.

    When q, k and v share their first (batch) axis, slices of it are independent and run on
    `tinytorch.core.parallel`'s threads; not with dropout, whose masks must be drawn in one
    order for a seed to give the same result at every thread count.
    """

    def forward(
        self,
        q: np.ndarray,
        k: np.ndarray,
        v: np.ndarray,
        *,
        bias: np.ndarray | None,
        causal_offset: int | None,
        scale: float,
        dropout_p: float,
        weights_sink: list[np.ndarray] | None,
    ) -> np.ndarray:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2])
        out_batch = np.broadcast_shapes(batch, v.shape[:-2])
        q_len, k_len = q.shape[-2], k.shape[-2]
        if out_batch:
            layout = (*out_batch[:-1], q_len, out_batch[-1], v.shape[-1])
            out = np.swapaxes(np.empty(layout, dtype=q.dtype), -2, -3)
        else:
            out = np.empty((q_len, v.shape[-1]), dtype=q.dtype)
        self.q, self.k, self.v, self.bias, self.scale = q, k, v, bias, scale
        self.out, self.batch, self.dropout_p = out, batch, dropout_p
        self.causal_offset = causal_offset
        self.pieces = [slice(None)]
        if q.ndim == k.ndim == v.ndim >= 3 and q.shape[0] == k.shape[0] == v.shape[0]:
            if dropout_p == 0.0:
                scores = math.prod(batch) * q_len * k_len
                self.pieces = split_range(q.shape[0], chunk_count(scores))
        self.blocks = parallel_map(self._forward_piece, self.pieces)
        if weights_sink is not None:
            full = np.zeros((*batch, q_len, k_len), dtype=q.dtype)
            for piece, blocks in zip(self.pieces, self.blocks, strict=True):
                for a, b, k_end, weights, keep in blocks:
                    full[piece][..., a:b, :k_end] = weights if keep is None else weights * keep
            weights_sink.append(full)
        return out

    def _bias_piece(self, piece: slice) -> np.ndarray | None:
        """The bias rows of one batch slice (a bias without that axis applies to all of them)."""
        bias = self.bias
        if bias is None or bias.ndim < self.q.ndim or bias.shape[0] == 1:
            return bias
        return bias[piece]

    def _forward_piece(self, piece: slice) -> list[tuple]:
        q, k, v, out = self.q[piece], self.k[piece], self.v[piece], self.out[piece]
        bias, causal_offset, dropout_p = self._bias_piece(piece), self.causal_offset, self.dropout_p
        keys_t = np.swapaxes(k, -1, -2)
        blocks = []
        for a, b, k_end in _query_blocks(q.shape[-2], k.shape[-2], causal_offset):
            if k_end == 0:  # these queries may attend to nothing
                out[..., a:b, :] = 0.0
                continue
            weights = (q[..., a:b, :] * self.scale) @ keys_t[..., :k_end]
            if causal_offset is not None:
                _mask_causal_(weights, a, k_end, causal_offset)
            if bias is not None:
                weights += _bias_block(bias, a, b, k_end)
            _masked_softmax_(weights)
            keep = None
            if dropout_p > 0.0:
                keep = default_generator().random(weights.shape, dtype=np.float32) >= dropout_p
                keep = keep * weights.dtype.type(1.0 / (1.0 - dropout_p))
            out[..., a:b, :] = (weights if keep is None else weights * keep) @ v[..., :k_end, :]
            blocks.append((a, b, k_end, weights, keep))
        return blocks

    def backward(self, grad: np.ndarray) -> tuple:
        need_q, need_k, need_v = self.needs_input_grad
        q, k, v = self.q, self.k, self.v
        grad_q = np.zeros((*self.batch, *q.shape[-2:]), q.dtype) if need_q else None
        grad_k = np.zeros((*self.batch, *k.shape[-2:]), k.dtype) if need_k else None
        grad_v = np.zeros((*grad.shape[:-2], *v.shape[-2:]), v.dtype) if need_v else None

        def backward_piece(item: tuple[slice, list[tuple]]) -> None:
            piece, blocks = item
            grads = (None if g is None else g[piece] for g in (grad_q, grad_k, grad_v))
            self._backward_piece(piece, blocks, grad[piece], *grads)

        parallel_map(backward_piece, list(zip(self.pieces, self.blocks, strict=True)))
        for scaled in (grad_q, grad_k):
            if scaled is not None:
                scaled *= self.scale
        return (
            unbroadcast(grad_q, q.shape) if need_q else None,
            unbroadcast(grad_k, k.shape) if need_k else None,
            unbroadcast(grad_v, v.shape) if need_v else None,
        )

    def _backward_piece(
        self,
        piece: slice,
        blocks: list[tuple],
        grad: np.ndarray,
        grad_q: np.ndarray | None,
        grad_k: np.ndarray | None,
        grad_v: np.ndarray | None,
    ) -> None:
        """Accumulate one batch slice's gradients into grad_q/k/v (already that slice)."""
        q, k, v, out = self.q[piece], self.k[piece], self.v[piece], self.out[piece]
        for a, b, k_end, weights, keep in blocks:
            grad_rows = grad[..., a:b, :]
            if grad_v is not None:
                attended = weights if keep is None else weights * keep
                grad_v[..., :k_end, :] += np.swapaxes(attended, -1, -2) @ grad_rows
            if grad_q is None and grad_k is None:
                continue
            grad_scores = grad_rows @ np.swapaxes(v[..., :k_end, :], -1, -2)
            grad_scores = unbroadcast(grad_scores, weights.shape)
            if keep is not None:
                grad_scores *= keep
            row_dot = np.einsum("...j,...j->...", grad_rows, out[..., a:b, :])[..., None]
            grad_scores -= unbroadcast(row_dot, weights.shape[:-1] + (1,))
            grad_scores *= weights
            if grad_q is not None:
                grad_q[..., a:b, :] = grad_scores @ k[..., :k_end, :]
            if grad_k is not None:
                grad_k[..., :k_end, :] += np.swapaxes(grad_scores, -1, -2) @ q[..., a:b, :]


def attend(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    bias: np.ndarray | None,
    causal_offset: int | None,
    scale: float,
    dropout_p: float,
    return_weights: bool,
) -> Tensor | tuple[Tensor, Tensor]:
    """Run the fused op on validated inputs; `bias` is additive (-inf = may not attend)."""
    sink: list[np.ndarray] | None = [] if return_weights else None
    out = ScaledDotProductAttention.apply(
        q,
        k,
        v,
        bias=bias,
        causal_offset=causal_offset,
        scale=scale,
        dropout_p=dropout_p,
        weights_sink=sink,
    )
    return (out, Tensor._wrap(sink[0])) if return_weights else out


def as_mask_array(mask: Any, name: str, dtype: np.dtype) -> np.ndarray:
    """A mask as an array: bool kept, floats cast to the scores' dtype, anything else refused."""
    array = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
    if array.dtype == np.bool_:
        return array
    if array.dtype.kind == "f":
        array = array.astype(dtype, copy=False)
        if not (array < np.inf).all():  # NaN or +inf would turn whole rows into NaN
            flat = int(np.flatnonzero(~(array < np.inf))[0])
            position = tuple(int(i) for i in np.unravel_index(flat, array.shape))
            raise ValueError(
                f"{name} is a float mask (added to the scores) and holds {array.flat[flat]} at "
                f"position {position}: only finite values and -inf (may not attend) are allowed"
            )
        return array
    raise TypeError(
        f"{name} must be bool (True = may attend) or float (added to the scores), "
        f"got dtype {array.dtype}"
    )


def check_mask_shape(mask: np.ndarray, scores_shape: tuple[int, ...], what: str) -> None:
    try:
        fits = np.broadcast_shapes(mask.shape, scores_shape) == scores_shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"attn_mask of shape {mask.shape} does not broadcast to {what}")


def additive_mask(mask: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A bool mask (True = may attend) as 0 / -inf, at least 2-D so its last axes are (Lq, Lk)."""
    if mask.dtype == np.bool_:
        mask = np.where(mask, dtype.type(0), dtype.type(-np.inf))
    return mask.reshape((1,) * (2 - mask.ndim) + mask.shape) if mask.ndim < 2 else mask


def _check_attention_shapes(q: Tensor, k: Tensor, v: Tensor) -> tuple[int, ...]:
    """Validate (..., Lq, E), (..., Lk, E), (..., Lk, Ev); return the scores' shape."""
    for name, t in (("query", q), ("key", k), ("value", v)):
        if t.ndim < 2:
            raise ValueError(f"{name} must have shape (..., seq_len, dim), got {t.shape}")
        if t.dtype.kind != "f":
            raise TypeError(f"{name} must be floating point, got dtype {t.dtype}")
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(
            f"query, key and value must share a dtype, got {q.dtype}, {k.dtype}, {v.dtype}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"query and key must have the same feature size, got query {q.shape} and key {k.shape}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"key and value must have the same length, got key {k.shape} and value {v.shape}"
        )
    try:
        np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(
            f"batch dimensions of query {q.shape}, key {k.shape} and value {v.shape} "
            "do not broadcast"
        ) from None
    return (*np.broadcast_shapes(q.shape[:-2], k.shape[:-2]), q.shape[-2], k.shape[-2])


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attn_mask: Any = None,
    is_causal: bool = False,
    dropout_p: float = 0.0,
    scale: float | None = None,
    return_weights: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """softmax(q k^T * scale + mask) v for q (..., Lq, E), k (..., Lk, E), v (..., Lk, Ev).

    Leading batch dims broadcast (like `torch.nn.functional.scaled_dot_product_attention`).
    `attn_mask`: bool (True = may attend) or float (additive), broadcastable to (..., Lq, Lk); it
    carries no gradient. `is_causal=True` lets query i attend to keys 0..i (PyTorch's top-left
    alignment, also when Lq != Lk); it cannot be combined with `attn_mask` (pass one mask that says
    everything). `scale` defaults to 1/sqrt(E). Dropout (applied whenever `dropout_p > 0`, as in
    PyTorch) draws from `tinytorch.core.random.default_generator()`. With `return_weights=True`
    also returns the attention weights actually applied to v (after dropout), without gradient.
    """
    q, k, v = as_tensor(q), as_tensor(k), as_tensor(v)
    scores_shape = _check_attention_shapes(q, k, v)
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise ValueError(
            "pass either attn_mask or is_causal=True, not both (combine them into one mask)"
        )
    bias = None
    if attn_mask is not None:
        mask = as_mask_array(attn_mask, "attn_mask", q.dtype)
        check_mask_shape(
            mask,
            scores_shape,
            f"the attention scores' shape {scores_shape} (query {q.shape}, key {k.shape})",
        )
        bias = additive_mask(mask, q.dtype)
    if scale is not None and (
        not is_finite_number(scale)
    ):
        raise ValueError(f"scale must be a finite number or None, got {scale!r}")
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    causal_offset = 0 if is_causal else None
    return attend(q, k, v, bias, causal_offset, scale, float(dropout_p), return_weights)
