"""The KV cache: keys and values an attention layer already computed, for incremental decoding."""

from __future__ import annotations

import numpy as np


class KVCache:
    """The keys and values one attention layer has already computed, for incremental decoding.

    Generating token t+1 only needs the new token's query against every earlier key and value;
    caching them makes each step O(t) instead of recomputing the whole prefix. Arrays have shape
    (batch, heads, length, head_dim) and grow by doubling, so appending is amortised O(1) per row.
    """

    def __init__(self) -> None:
        self._keys: np.ndarray | None = None
        self._values: np.ndarray | None = None
        self._length = 0

    @property
    def length(self) -> int:
        """How many positions are cached (the absolute position of the next token)."""
        return self._length

    @property
    def keys(self) -> np.ndarray | None:
        return None if self._keys is None else self._keys[:, :, : self._length]

    @property
    def values(self) -> np.ndarray | None:
        return None if self._values is None else self._values[:, :, : self._length]

    def append(self, keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add (B, H, T, hd) keys/values of T new positions; return all cached keys/values."""
        if keys.ndim != 4 or keys.shape[:3] != values.shape[:3]:
            raise ValueError(
                f"keys and values must be (batch, heads, length, head_dim) with matching "
                f"leading dims, got {keys.shape} and {values.shape}"
            )
        if self._keys is not None and (
            keys.shape[:2] != self._keys.shape[:2]
            or keys.shape[3] != self._keys.shape[3]
            or values.shape[3] != self._values.shape[3]
        ):
            raise ValueError(
                f"cannot append keys {keys.shape} / values {values.shape} to a cache holding "
                f"{self._keys.shape[:2]} batch x heads with head_dim {self._keys.shape[3]}"
            )
        end = self._length + keys.shape[2]
        if self._keys is None or end > self._keys.shape[2]:
            self._keys = self._grow(self._keys, keys, end)
            self._values = self._grow(self._values, values, end)
        self._keys[:, :, self._length : end] = keys
        self._values[:, :, self._length : end] = values
        self._length = end
        return self.keys, self.values

    def _grow(self, old: np.ndarray | None, new: np.ndarray, needed: int) -> np.ndarray:
        capacity = max(needed, 2 * old.shape[2] if old is not None else 0)
        grown = np.empty((*new.shape[:2], capacity, new.shape[3]), dtype=new.dtype)
        if old is not None:
            grown[:, :, : self._length] = old[:, :, : self._length]
        return grown
