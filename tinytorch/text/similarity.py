"""Nearest neighbours in an embedding table: the quickest look at what the vectors learned."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.checks import check_positive, is_int
from tinytorch.core.errors import IndexOutOfRangeError
from tinytorch.core.module import Module
from tinytorch.core.tensor import Tensor


def _table(embedding_or_weight: Any) -> np.ndarray:
    if isinstance(embedding_or_weight, Module):
        embedding_or_weight = embedding_or_weight.weight
    table = np.asarray(
        embedding_or_weight.data if isinstance(embedding_or_weight, Tensor) else embedding_or_weight
    )
    if table.ndim != 2 or table.dtype.kind != "f":
        raise ValueError(
            f"expected an Embedding or a 2-D floating-point table, got shape {table.shape} and "
            f"dtype {table.dtype}"
        )
    return table


def unit_rows(rows: Any) -> np.ndarray:
    """The rows of a 2-D array scaled to length 1, in float64; a zero row stays zero, so its
    cosine with anything is 0 instead of NaN."""
    rows = np.asarray(rows, dtype=np.float64)
    norms = np.linalg.norm(rows, axis=1)
    return rows / np.where(norms > 0, norms, 1.0)[:, None]


def nearest_neighbors(
    embedding_or_weight: Any, token_id: int, k: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """The k ids whose rows are most cosine-similar to row `token_id` (itself excluded).

    Returns (ids int64, similarities float32), most similar first, ties broken by lower id. A zero
    row has similarity 0 to everything instead of NaN.
    """
    return nearest_neighbors_of_each(embedding_or_weight, [token_id], k)[0]


def nearest_neighbors_of_each(
    embedding_or_weight: Any, token_ids: list[int], k: int = 5
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`nearest_neighbors` of each of `token_ids`, with the table normalised once."""
    table = _table(embedding_or_weight)
    num_rows = table.shape[0]
    for token_id in token_ids:
        if not is_int(token_id):
            raise TypeError(f"token_id must be an integer, got {token_id!r}")
        if not 0 <= token_id < num_rows:
            raise IndexOutOfRangeError(
                f"token_id {token_id} is out of range for a table of {num_rows} rows: allowed "
                f"ids are [0, {num_rows})"
            )
    check_positive(k=k)
    if k > num_rows - 1:
        raise ValueError(f"k={k} exceeds the {num_rows - 1} other rows of the table")
    unit = unit_rows(table)
    found = []
    for token_id in token_ids:
        similarity = unit @ unit[token_id]
        similarity[token_id] = -np.inf
        ids = np.argsort(-similarity, kind="stable")[:k]
        found.append((ids.astype(np.int64), similarity[ids].astype(np.float32)))
    return found
