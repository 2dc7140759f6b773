"""Dtype names as PyTorch spells them (`tinytorch.float32`, `tinytorch.long`, ...) and the one
function that turns every accepted spelling into a NumPy dtype.

A tinytorch dtype IS a NumPy dtype, so `x.dtype == tinytorch.float32` holds and NumPy spellings
(`np.float64`, `"int64"`) keep working. Python's `float`, `int` and `bool` mean float64, int64 and
bool, as in PyTorch. Half precision is refused rather than emulated: NumPy computes float16 in
software (slow) and has no bfloat16, so `tinytorch.float16` and `tinytorch.bfloat16` exist only so
that code naming them loads, and using one raises.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np


class UnsupportedDtype:
    """A PyTorch dtype tinytorch does not compute in; any use of it raises TypeError."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"tinytorch.{self.name}"


float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
int16 = np.dtype(np.int16)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
float16 = UnsupportedDtype("float16")
bfloat16 = UnsupportedDtype("bfloat16")

SUPPORTED = (float32, float64, int64, int32, int16, int8, uint8, bool_)
_PYTHON_TYPES = {builtins.float: float64, builtins.int: int64, builtins.bool: bool_}


def _refusal(name: str) -> TypeError:
    allowed = ", ".join(str(d) for d in SUPPORTED)
    return TypeError(
        f"dtype {name} is not supported: tinytorch computes in float32 and float64 on the CPU "
        f"(allowed: {allowed})"
    )


def resolve_dtype(dtype: Any) -> np.dtype:
    """The NumPy dtype for `tinytorch.float32`, `np.float32`, `"float32"`, `float`, ...

    Raises TypeError naming the dtype for half precision and for anything that is not a number
    or bool type.
    """
    if isinstance(dtype, UnsupportedDtype):
        raise _refusal(dtype.name)
    if dtype in _PYTHON_TYPES:
        return _PYTHON_TYPES[dtype]
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a tinytorch or NumPy dtype, got {dtype!r}") from None
    if resolved not in SUPPORTED:
        raise _refusal(str(resolved))
    return resolved


def get_default_dtype() -> np.dtype:
    """The dtype of floating tensors made without a dtype: always float32."""
    return float32


def is_floating_point(tensor: Any) -> bool:
    return tensor.dtype.kind == "f"
