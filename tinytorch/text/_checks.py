"""Argument checks shared by the position encodings (offsets, lengths, table limits)."""

from __future__ import annotations

from typing import Any

import numpy as np


def check_non_negative(**values: Any) -> None:
    """Raise ValueError naming the argument unless each value is an integer >= 0 (not a bool)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def check_fits_table(offset: int, seq_len: int, max_seq_len: int) -> None:
    """A sequence placed at `offset` must end inside a positional table of `max_seq_len` rows."""
    check_non_negative(offset=offset)
    if offset + seq_len > max_seq_len:
        raise ValueError(
            f"sequence end {offset + seq_len} (offset {offset} + length {seq_len}) exceeds "
            f"maximum sequence length {max_seq_len}"
        )
