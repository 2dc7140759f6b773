"""Tensor creation with PyTorch's signatures: `tensor`, `zeros`, `ones`, `full`, `empty`, the
`*_like` forms, `arange`, `linspace`, `eye`, `as_tensor`, `from_numpy`.

Sizes are given as PyTorch allows (`zeros(2, 3)`, `zeros((2, 3))`, `zeros(x.size())`); every
function takes `dtype=` (a tinytorch, NumPy or Python dtype), `device=` (only the CPU) and
`requires_grad=`. Default dtypes are PyTorch's: float32 for floating values, int64 for integers,
bool for bools; `tensor(array)` keeps a NumPy array's dtype, as `torch.tensor` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinytorch.core.checks import is_int, is_number
from tinytorch.core.devices import check_device
from tinytorch.core.dtypes import float32, resolve_dtype
from tinytorch.core.tensor import Tensor


def shape_from(size: tuple) -> tuple[int, ...]:
    """A shape from `*size` as PyTorch accepts it: ints, or one tuple/list/Size of ints."""
    if len(size) == 1 and isinstance(size[0], Sequence):
        size = tuple(size[0])
    if not all(is_int(n) for n in size):
        raise TypeError(f"size must be integers or one sequence of integers, got {size!r}")
    if any(n < 0 for n in size):
        raise ValueError(f"size must not be negative, got {tuple(int(n) for n in size)}")
    return tuple(int(n) for n in size)


def made(array: np.ndarray, device: Any, requires_grad: bool) -> Tensor:
    """Wrap a freshly made array: check the device and set `requires_grad` (floats only)."""
    check_device(device)
    out = Tensor._wrap(array)
    return out.requires_grad_() if requires_grad else out


def _float_dtype(dtype: Any) -> np.dtype:
    return float32 if dtype is None else resolve_dtype(dtype)


def tensor(data: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (nested lists, numbers, an array or a tensor): an
    array keeps its dtype, Python data takes PyTorch's (float -> float32, int -> int64, bool)."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is None and isinstance(data, (np.ndarray, np.generic)):
        dtype = data.dtype
    return made(Tensor(data, dtype=_resolved(dtype)).data, device, requires_grad)


def _resolved(dtype: Any) -> np.dtype | None:
    return None if dtype is None else resolve_dtype(dtype)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """`data` itself if it is a tensor of that dtype, else a tensor sharing memory where it can."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == resolve_dtype(dtype)):
        check_device(device)
        return data
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == resolve_dtype(dtype)):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing `array`'s memory (writes to one show in the other), as in PyTorch."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a NumPy array, got {type(array).__name__}")
    resolve_dtype(array.dtype)  # refuses float16, objects, strings
    return Tensor._wrap(array)


def _filled(size: tuple, value: Any, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    array = np.full(shape_from(size), value, dtype=_float_dtype(dtype))
    return made(array, device, requires_grad)


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
          ) -> Tensor:
    return _filled(size, 0, dtype, device, requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
         ) -> Tensor:
    return _filled(size, 1, dtype, device, requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
          ) -> Tensor:
    """Uninitialised memory, as in PyTorch (write it before reading it)."""
    return made(np.empty(shape_from(size), _float_dtype(dtype)), device, requires_grad)


def full(size: Sequence[int], fill_value: Any, *, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """`size` filled with `fill_value`; the dtype follows the value (bool, int64 or float32)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if not is_number(fill_value) and not isinstance(fill_value, (bool, np.bool_)):
        raise TypeError(f"fill_value must be a number or bool, got {fill_value!r}")
    target = Tensor(fill_value, dtype=_resolved(dtype)).dtype
    return made(np.full(shape_from((size,)), fill_value, dtype=target), device, requires_grad)


def _like(input: Any, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
    shape = np.shape(input.data if isinstance(input, Tensor) else input)
    return shape, np.asarray(input).dtype if dtype is None else resolve_dtype(dtype)


def zeros_like(input: Any, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    shape, target = _like(input, dtype)
    return made(np.zeros(shape, target), device, requires_grad)


def ones_like(input: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    shape, target = _like(input, dtype)
    return made(np.ones(shape, target), device, requires_grad)


def empty_like(input: Any, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    shape, target = _like(input, dtype)
    return made(np.empty(shape, target), device, requires_grad)


def full_like(input: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    shape, target = _like(input, dtype)
    return made(np.full(shape, fill_value, target), device, requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """[start, end) in steps; int64 when every bound is an integer, else float32 (PyTorch)."""
    if end is None:
        start, end = 0, start
    bounds = (start, end, step)
    if not all(is_number(b) for b in bounds):
        raise TypeError(f"arange bounds must be numbers, got {bounds}")
    if step == 0:
        raise ValueError("arange step must not be zero")
    integer = all(is_int(b) for b in bounds)
    target = resolve_dtype(dtype) if dtype is not None else (
        np.dtype(np.int64) if integer else float32
    )
    values = np.arange(start, end, step, dtype=np.int64 if integer else np.float64)
    return made(values.astype(target), device, requires_grad)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end, both included."""
    if not is_int(steps) or steps < 0:
        raise ValueError(f"linspace steps must be a non-negative integer, got {steps!r}")
    values = np.linspace(start, end, steps).astype(_float_dtype(dtype))
    return made(values, device, requires_grad)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """The n x m identity matrix (m defaults to n)."""
    rows, cols = shape_from((n, n if m is None else m))
    return made(np.eye(rows, cols, dtype=_float_dtype(dtype)), device, requires_grad)
