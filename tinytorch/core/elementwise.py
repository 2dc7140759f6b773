"""Elementwise functions of one tensor: exp, log, sqrt, tanh, sigmoid, relu, gelu, abs, clip.

Transcendental functions of integer tensors compute in float32, as in PyTorch (`as_float`).
"""

from __future__ import annotations

import builtins
import math

import numpy as np
from scipy import special

from tinytorch.core.autograd import Function
from tinytorch.core.casting import as_float
from tinytorch.core.parallel import parallel_rows
from tinytorch.core.tensor import Tensor


class Neg(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return -a

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return -grad


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


class Exp(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        self.out = np.exp(a)
        return self.out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.out


def exp(x: Tensor) -> Tensor:
    return Exp.apply(as_float(x))


class Log(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        self.a = a
        return np.log(a)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad / self.a


def log(x: Tensor) -> Tensor:
    return Log.apply(as_float(x))


class Sqrt(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        self.out = np.sqrt(a)
        return self.out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad / (2.0 * self.out)


def sqrt(x: Tensor) -> Tensor:
    return Sqrt.apply(as_float(x))


class Tanh(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        self.out = np.tanh(a)
        return self.out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * (1.0 - self.out * self.out)


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(as_float(x))


class Sigmoid(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        self.out = special.expit(a)  # stable for large |a|, unlike 1 / (1 + exp(-a))
        return self.out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.out * (1.0 - self.out)


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid.apply(as_float(x))


class ReLUFunction(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        self.positive = a > 0
        return a * self.positive

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.positive


def relu(x: Tensor) -> Tensor:
    return ReLUFunction.apply(x)


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_CUBIC = 0.044715


class GELUFunction(Function):
    """GELU, exact (`x * Phi(x)`) or with the tanh approximation of Hendrycks & Gimpel.

    The tanh form is computed as `x * sigmoid(2u)` with `u = sqrt(2/pi) (x + 0.044715 x^3)`,
    which equals `0.5 x (1 + tanh(u))` but costs an `exp` instead of the slower `tanh`. In a GPT
    this is the largest activation (4x the model width), so every pass of both forms runs in
    place; the tanh form's run on chunks split over `tinytorch.core.parallel`'s threads, and its
    sigmoid is kept for backward, which then needs no transcendental function.
    """

    def forward(self, a: np.ndarray, approximate: str) -> np.ndarray:
        self.a, self.approximate = a, approximate
        if approximate == "tanh":
            self.s, out = np.empty(a.size, a.dtype), np.empty(a.size, a.dtype)
            parallel_rows(_gelu_tanh_forward, (self.s, out), (a.reshape(-1),))
            return out.reshape(a.shape)
        self.cdf = np.multiply(a, _INV_SQRT_2)  # Phi(x) = (1 + erf(x / sqrt 2)) / 2, in place
        special.erf(self.cdf, out=self.cdf)
        self.cdf += 1.0
        self.cdf *= 0.5
        return np.multiply(a, self.cdf)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        a = self.a
        if self.approximate == "tanh":
            out = np.empty(a.size, a.dtype)
            parallel_rows(_gelu_tanh_backward, (out,), (a.reshape(-1), self.s, grad.reshape(-1)))
            return out.reshape(a.shape)
        out = np.multiply(a, a)  # grad * (Phi(x) + x * phi(x)), in place
        out *= -0.5
        np.exp(out, out=out)
        out *= a
        out *= _INV_SQRT_2PI
        out += self.cdf
        out *= grad
        return out


def _gelu_tanh_forward(s: np.ndarray, out: np.ndarray, a: np.ndarray) -> None:
    """s = sigmoid(2u) and out = a * s, written into the given (1-D) arrays."""
    np.multiply(a, a, out=s)
    s *= -2.0 * _SQRT_2_OVER_PI * _GELU_CUBIC
    s -= 2.0 * _SQRT_2_OVER_PI
    s *= a  # -2u
    with np.errstate(over="ignore"):  # exp -> inf for very negative x: s becomes 0
        np.exp(s, out=s)
    s += 1.0
    np.reciprocal(s, out=s)
    np.multiply(a, s, out=out)


def _gelu_tanh_backward(out: np.ndarray, a: np.ndarray, s: np.ndarray, grad: np.ndarray) -> None:
    """out = grad * s (1 + x du2 (1 - s)), with du2 = d(2u)/dx = 2c (1 + 3k x^2)."""
    np.multiply(a, a, out=out)
    out *= 6.0 * _SQRT_2_OVER_PI * _GELU_CUBIC
    out += 2.0 * _SQRT_2_OVER_PI
    out *= a
    out *= 1.0 - s
    out += 1.0
    out *= s
    out *= grad


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELUFunction.apply(as_float(x), approximate=approximate)


class Abs(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        self.sign = np.sign(a)
        return np.abs(a)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.sign


def abs(x: Tensor) -> Tensor:  # noqa: A001
    return Abs.apply(x)


class Clip(Function):
    def forward(self, a: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
        out = np.clip(a, low, high)
        self.inside = out == a  # PyTorch passes the gradient where low <= a <= high
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.inside


def clip(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise ValueError("clip needs at least one of min and max")
    if builtins.any(np.asarray(b).dtype.kind == "f" for b in (min, max) if b is not None):
        x = as_float(x)  # an integer tensor clipped to float bounds becomes float32, as in PyTorch
    # Python scalars keep x's dtype under NumPy 2 (an np.float64 bound would promote float32).
    scalar = float if x.dtype.kind == "f" else int
    low, high = (None if b is None else scalar(b) for b in (min, max))
    return Clip.apply(x, low=low, high=high)
