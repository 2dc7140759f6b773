"""Row-sparse gradients: what an embedding table with `sparse=True` receives instead of a dense one.

A (V, D) table looked up with a few ids only has non-zero gradient in those rows. Allocating and
zero-filling all V rows every step is the dominant cost for large vocabularies, so the gradient is
kept as (unique sorted row ids, their rows), and optimizers update only those rows.

Built from raw rows (one per looked-up position, ids repeating), the gradient sums the repeats
only when first read. Backward then costs no more than handing over the upstream gradient, as
PyTorch's uncoalesced sparse gradients do, and the merge happens once, in whatever reads it (the
optimizer step, clipping, `to_dense`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse as scipy_sparse


def distinct_rows(ids: np.ndarray, num_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct ids and, for each id, its index among them.

    Counting costs O(ids + table rows) and beats sorting (0.3 vs 2.6 ms for 65,536 ids into
    50,000 rows) unless the table dwarfs the batch, where sorting avoids an O(V) pass.
    """
    if num_rows > 8 * ids.size:
        return np.unique(ids, return_inverse=True)
    present = np.bincount(ids, minlength=num_rows) > 0
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present), rank[ids]


class RowSparseGrad:
    """Gradient of a 2-D table that is zero except in the rows `indices` (unique, sorted)."""

    __array_priority__ = 1000

    def __init__(self, indices: np.ndarray, values: np.ndarray, shape: tuple[int, ...]) -> None:
        if values.shape[:1] != indices.shape or values.shape[1:] != tuple(shape[1:]):
            raise ValueError(
                f"values of shape {values.shape} do not fit {indices.shape[0]} rows of a "
                f"table of shape {tuple(shape)}"
            )
        self._rows, self._row_values, self._merged = indices, values, True
        self.shape = tuple(shape)

    @classmethod
    def from_rows(
        cls, rows: np.ndarray, values: np.ndarray, shape: tuple[int, ...]
    ) -> RowSparseGrad:
        """Rows that may repeat; their values are summed when the gradient is first read."""
        grad = cls(rows, values, shape)
        grad._merged = False
        return grad

    def _merge(self) -> None:
        """Sum repeated rows with one sparse-matrix product (one column per raw row)."""
        if self._merged:
            return
        distinct, inverse = distinct_rows(self._rows, self.shape[0])
        count = self._rows.size
        ones = np.ones(count, dtype=self._row_values.dtype)
        summing = scipy_sparse.csc_array(
            (ones, inverse, np.arange(count + 1)), (distinct.size, count)
        )
        self._rows, self._row_values, self._merged = distinct, summing @ self._row_values, True

    @property
    def indices(self) -> np.ndarray:
        self._merge()
        return self._rows

    @property
    def values(self) -> np.ndarray:
        self._merge()
        return self._row_values

    @property
    def dtype(self) -> np.dtype:
        return self._row_values.dtype

    def to_dense(self) -> np.ndarray:
        dense = np.zeros(self.shape, dtype=self.dtype)
        dense[self.indices] = self.values
        return dense

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        dense = self.to_dense()
        return dense if dtype is None else dense.astype(dtype)

    def __add__(self, other: Any) -> Any:
        if isinstance(other, RowSparseGrad):
            rows = np.concatenate([self._rows, other._rows])
            values = np.concatenate([self._row_values, other._row_values])
            return RowSparseGrad.from_rows(rows, values, self.shape)
        dense = np.array(other, dtype=self.dtype)  # a dense partner densifies the sum
        dense[self.indices] += self.values
        return dense

    __radd__ = __add__

    def __mul__(self, scale: float) -> RowSparseGrad:
        return RowSparseGrad(self.indices, self.values * scale, self.shape)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"RowSparseGrad(rows={self.indices.size}, shape={self.shape}, dtype={self.dtype})"
