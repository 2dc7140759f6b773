"""Rotary position embedding (RoPE, Su et al. 2021, "RoFormer").

RoPE encodes position by rotating each pair of query/key features by an angle proportional to the
position. A rotation preserves norms, and the dot product of a query rotated to position m with a
key rotated to position n depends only on m - n: attention sees relative positions for free, and
there is no table to outgrow.
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.autograd import Function
from tinytorch.core.layers import Module, _check_positive
from tinytorch.core.tensor import Tensor
from tinytorch.text._checks import check_non_negative


def _rotate_pairs(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Rotate interleaved pairs (x[2i], x[2i+1]) by the angle whose cos/sin are given."""
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


class RotaryFunction(Function):
    """Rotation forward; its transpose (rotation by the negative angle) backward."""

    def forward(self, x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
        self.cos, self.sin = cos, sin
        return _rotate_pairs(x, cos, sin)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return _rotate_pairs(grad, self.cos, -self.sin)


class RotaryEmbedding(Module):
    """Rotates queries/keys of shape (..., T, head_dim) by their positions `offset + t`.

    Layout (RoFormer paper, interleaved pairs): features (2i, 2i+1) form a pair rotated by
    `theta_i = pos * base**(-2i / head_dim)`:

        out[2i]   = x[2i] * cos(theta_i) - x[2i+1] * sin(theta_i)
        out[2i+1] = x[2i] * sin(theta_i) + x[2i+1] * cos(theta_i)

    HF/LLaMA's "rotate-half" layout pairs feature i with i + head_dim/2 instead; it is the same
    rotation on a permutation of the features (a checkpoint converts by permuting the q/k weight
    rows). No parameters and no maximum length: the cos/sin tables are cached per dtype and grown
    on demand, computed in float64 and cast once so float32 positions stay accurate far out.
    """

    def __init__(self, head_dim: int, base: float = 10000.0) -> None:
        super().__init__()
        _check_positive(head_dim=head_dim)
        if head_dim % 2:
            raise ValueError(f"RotaryEmbedding needs an even head_dim (pairs), got {head_dim}")
        if not base > 0:
            raise ValueError(f"base must be positive, got {base!r}")
        self.head_dim, self.base = int(head_dim), float(base)
        self.inv_freq = self.base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
        self._tables: dict[np.dtype, tuple[np.ndarray, np.ndarray]] = {}

    def _cos_sin(self, end: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        """cos/sin of the angles for positions 0..end-1 (at least), shape (end, head_dim/2)."""
        cached = self._tables.get(dtype)
        if cached is None or cached[0].shape[0] < end:
            capacity = max(end, 2 * cached[0].shape[0] if cached else 0)
            angles = np.arange(capacity, dtype=np.float64)[:, None] * self.inv_freq
            cached = (np.cos(angles).astype(dtype), np.sin(angles).astype(dtype))
            self._tables[dtype] = cached
        return cached

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.dtype.kind != "f":
            raise TypeError(f"RotaryEmbedding needs floating-point input, got dtype {x.dtype}")
        if x.ndim < 2 or x.shape[-1] != self.head_dim:
            raise ValueError(
                f"RotaryEmbedding(head_dim={self.head_dim}) needs input of shape "
                f"(..., seq_len, {self.head_dim}), got {x.shape}"
            )
        check_non_negative(offset=offset)
        seq_len = x.shape[-2]
        cos, sin = self._cos_sin(offset + seq_len, x.dtype)
        return RotaryFunction.apply(
            x, cos=cos[offset : offset + seq_len], sin=sin[offset : offset + seq_len]
        )

    def extra_repr(self) -> str:
        return f"head_dim={self.head_dim}, base={self.base}"
