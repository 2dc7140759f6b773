"""Which dtype an op computes in: PyTorch's promotion rules, and the differentiable cast.

A float operand decides the result's dtype; integers alone give int64; Python scalars and arrays
take a float partner's dtype, so `float32_tensor * 0.5` stays float32 under NumPy 2 and
`float64_tensor * 1.0001` is not rounded through float32 first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.autograd import Function
from tinytorch.core.tensor import Tensor


def promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """PyTorch-style promotion: a float operand decides; integers alone give int64."""
    if a == b:
        return a
    floats = [d for d in (a, b) if d.kind == "f"]
    return np.result_type(*floats) if floats else np.dtype(np.int64)


def _lift(value: Any, partner: Any) -> Tensor:
    """A non-tensor operand as a Tensor, taking a float partner's dtype straight from its values.

    So `float64_tensor * 1.0001` is not rounded through float32 first and `float32_tensor *
    float64_array` stays float32; without a float partner the defaults apply (float -> float32,
    int -> int64).
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(partner, Tensor) and partner.dtype.kind == "f":
        array = np.asarray(value)
        if array.dtype.kind in "biuf":
            return Tensor._wrap(array.astype(partner.dtype))
    return Tensor(value)


def operands(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Lift scalars/arrays to Tensors (see `_lift`) and promote both to a common dtype."""
    a, b = _lift(a, b), _lift(b, a)
    dtype = promote(a.dtype, b.dtype)
    return cast(a, dtype), cast(b, dtype)


class Cast(Function):
    def forward(self, a: np.ndarray, dtype: Any) -> np.ndarray:
        self.source = a.dtype
        return a.astype(dtype)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad.astype(self.source)


def cast(x: Tensor, dtype: Any) -> Tensor:
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    if not x.requires_grad or dtype.kind != "f":  # integers carry no gradient (as in PyTorch)
        return Tensor._wrap(x.data.astype(dtype))
    return Cast.apply(x, dtype=dtype)


def as_float(x: Tensor) -> Tensor:
    """Transcendental functions of integers give float32, as in PyTorch."""
    return x if x.dtype.kind == "f" else cast(x, np.float32)
