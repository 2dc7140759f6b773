"""Absolute position encodings added to token vectors: a learned table or fixed sinusoids.

Attention is permutation-invariant, so without positions "dog bites man" and "man bites dog" look
the same. Both encodings here add a vector per position to the token vectors; they differ in
whether that table is trained (GPT-2) or fixed by a formula (Vaswani et al. 2017).
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.layers import Module, Parameter, _check_positive
from tinytorch.core.random import default_generator
from tinytorch.core.tensor import Tensor
from tinytorch.text._checks import check_fits_table


def create_sinusoidal_embeddings(
    max_seq_len: int, embed_dim: int, base: float = 10000.0
) -> np.ndarray:
    """The sinusoidal table of Vaswani et al., float32 (max_seq_len, embed_dim), interleaved:

        PE[pos, 2i]   = sin(pos / base**(2i / embed_dim))
        PE[pos, 2i+1] = cos(pos / base**(2i / embed_dim))

    An odd embed_dim ends with a sin column. Angles are computed in float64 and cast once, so
    far positions keep full float32 accuracy.
    """
    _check_positive(max_seq_len=max_seq_len, embed_dim=embed_dim)
    if not base > 0:
        raise ValueError(f"base must be positive, got {base!r}")
    even_dims = np.arange(0, embed_dim, 2, dtype=np.float64)
    angles = np.arange(max_seq_len, dtype=np.float64)[:, None] / base ** (even_dims / embed_dim)
    table = np.empty((max_seq_len, embed_dim), dtype=np.float64)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : embed_dim // 2])
    return table.astype(np.float32)


def _add_positions(x: Tensor, table: Tensor, offset: int, name: str) -> Tensor:
    """x (..., T, D) plus table rows offset..offset+T-1, after checking shapes and length."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    max_seq_len, embed_dim = table.shape
    if x.ndim < 2 or x.shape[-1] != embed_dim:
        raise ValueError(
            f"{name}: input of shape {x.shape} does not match the table's embed_dim {embed_dim} "
            f"(expected shape (..., seq_len, {embed_dim}))"
        )
    seq_len = x.shape[-2]
    check_fits_table(offset, seq_len, max_seq_len)
    return x + table[offset : offset + seq_len]


class PositionalEncoding(Module):
    """Learned absolute positions (GPT-2): a trainable (max_seq_len, embed_dim) table.

    Initialised N(0, 0.02) like GPT-2. `offset` places the input at positions offset..offset+T-1,
    for incremental decoding with a cache.
    """

    def __init__(self, max_seq_len: int, embed_dim: int) -> None:
        super().__init__()
        _check_positive(max_seq_len=max_seq_len, embed_dim=embed_dim)
        self.max_seq_len, self.embed_dim = int(max_seq_len), int(embed_dim)
        table = default_generator().normal(0.0, 0.02, size=(max_seq_len, embed_dim))
        self.weight = Parameter(table.astype(np.float32))

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        return _add_positions(x, self.weight, offset, type(self).__name__)

    def extra_repr(self) -> str:
        return f"max_seq_len={self.max_seq_len}, embed_dim={self.embed_dim}"


class SinusoidalPositionalEncoding(Module):
    """Fixed sinusoidal positions: a non-persistent buffer, never trained nor saved.

    The table is a function of (max_seq_len, embed_dim, base), so a checkpoint need not carry it.
    """

    def __init__(self, max_seq_len: int, embed_dim: int, base: float = 10000.0) -> None:
        super().__init__()
        table = create_sinusoidal_embeddings(max_seq_len, embed_dim, base)
        self.max_seq_len, self.embed_dim, self.base = int(max_seq_len), int(embed_dim), base
        self.register_buffer("pe", table, persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        return _add_positions(x, self.pe, offset, type(self).__name__)

    def extra_repr(self) -> str:
        return f"max_seq_len={self.max_seq_len}, embed_dim={self.embed_dim}, base={self.base}"
