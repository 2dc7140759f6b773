"""Row-sparse gradients: what an embedding table with `sparse=True` receives instead of a dense one.

A (V, D) table looked up with a few ids only has non-zero gradient in those rows. Allocating and
zero-filling all V rows every step is the dominant cost for large vocabularies, so the gradient is
kept as (unique sorted row ids, their rows), and optimizers update only those rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class RowSparseGrad:
    """Gradient of a 2-D table that is zero except in the rows `indices` (unique, sorted)."""

    __array_priority__ = 1000

    def __init__(self, indices: np.ndarray, values: np.ndarray, shape: tuple[int, ...]) -> None:
        if values.shape[:1] != indices.shape or values.shape[1:] != tuple(shape[1:]):
            raise ValueError(
                f"values of shape {values.shape} do not fit {indices.shape[0]} rows of a "
                f"table of shape {tuple(shape)}"
            )
        self.indices = indices
        self.values = values
        self.shape = tuple(shape)

    @classmethod
    def from_rows(
        cls, rows: np.ndarray, values: np.ndarray, shape: tuple[int, ...]
    ) -> RowSparseGrad:
        """Sum `values` of rows that repeat in `rows`, giving unique sorted indices."""
        order = np.argsort(rows, kind="stable")
        sorted_rows = rows[order]
        if rows.size == 0:
            return cls(sorted_rows, values[:0], shape)
        starts = np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1]])
        return cls(sorted_rows[starts], np.add.reduceat(values[order], starts, axis=0), shape)

    @property
    def dtype(self) -> np.dtype:
        return self.values.dtype

    def to_dense(self) -> np.ndarray:
        dense = np.zeros(self.shape, dtype=self.values.dtype)
        dense[self.indices] = self.values
        return dense

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        dense = self.to_dense()
        return dense if dtype is None else dense.astype(dtype)

    def __add__(self, other: Any) -> Any:
        if isinstance(other, RowSparseGrad):
            rows = np.concatenate([self.indices, other.indices])
            values = np.concatenate([self.values, other.values])
            return RowSparseGrad.from_rows(rows, values, self.shape)
        dense = np.array(other, dtype=self.values.dtype)  # a dense partner densifies the sum
        dense[self.indices] += self.values
        return dense

    __radd__ = __add__

    def __mul__(self, scale: float) -> RowSparseGrad:
        return RowSparseGrad(self.indices, self.values * scale, self.shape)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"RowSparseGrad(rows={self.indices.size}, shape={self.shape}, dtype={self.dtype})"
