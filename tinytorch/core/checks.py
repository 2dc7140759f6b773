"""Argument checks shared by the whole package, so every boundary refuses bad values alike.

Python's `bool` is an `int`, and NumPy scalars are not Python ints or floats: the predicates
here accept NumPy's integers and floats, and never a bool where a number is meant (`True` as a
layer size or a token id is a mistake, not the number 1).
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def is_int(value: Any) -> bool:
    """An integer (Python or NumPy), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A real number (Python or NumPy int or float, possibly inf or nan), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_finite_number(value: Any) -> bool:
    return is_number(value) and math.isfinite(value)


def check_positive(**values: Any) -> None:
    """Raise ValueError naming the argument unless each value is an integer > 0."""
    for name, value in values.items():
        if not is_int(value) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_non_negative(**values: Any) -> None:
    """Raise ValueError naming the argument unless each value is an integer >= 0."""
    for name, value in values.items():
        if not is_int(value) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


def check_fraction(name: str, value: Any) -> float:
    """A probability-like number in [0, 1), as a float."""
    if not (is_number(value) and 0.0 <= value < 1.0):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def check_choice(name: str, value: Any, choices: Any) -> None:
    """Raise ValueError unless `value` is one of `choices` (named in the message)."""
    try:
        known = value in choices
    except TypeError:  # an unhashable value cannot be a key of a dict of choices
        known = False
    if not known:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
