"""Error classes shared across modules, so every boundary reports bad input the same way."""

from __future__ import annotations


class IndexOutOfRangeError(IndexError, ValueError):
    """An id or class index outside its table.

    Both an `IndexError` (what PyTorch code catches) and a `ValueError` (what TinyTorch course code
    catches); messages contain "out of range", the offending value and the allowed range.
    """
