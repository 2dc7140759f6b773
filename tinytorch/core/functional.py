"""The differentiable tensor ops: each op's forward math and its gradient, side by side.

Every class here is a `Function`; the lower-case functions below them are the public entry points
that `Tensor` methods call. Gradients of broadcast operands are summed back to the operand's shape
(`_unbroadcast`). Constants are Python floats so float32 arrays stay float32 under NumPy 2.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import special

from tinytorch.core.autograd import Function
from tinytorch.core.parallel import parallel_rows
from tinytorch.core.tensor import Axis, Tensor, normalize_axis


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting added or stretched to reach `shape`."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
    )
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


def _promote(a: np.dtype, b: np.dtype) -> np.dtype:
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


def _operands(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Lift scalars/arrays to Tensors (see `_lift`) and promote both to a common dtype."""
    a, b = _lift(a, b), _lift(b, a)
    dtype = _promote(a.dtype, b.dtype)
    return cast(a, dtype), cast(b, dtype)


def _normalize_axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(normalize_axis(a, ndim) for a in axes)) if ndim else ()


def _expand_reduced(grad: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """Give a reduced gradient back the size-1 axes that the reduction removed."""
    return grad if keepdims else np.expand_dims(grad, axes)


# ----------------------------------------------------------------------------- dtype
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


# ------------------------------------------------------------------------ arithmetic
class Add(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, grad: np.ndarray) -> tuple:
        need_a, need_b = self.needs_input_grad
        return (_unbroadcast(grad, self.shapes[0]) if need_a else None,
                _unbroadcast(grad, self.shapes[1]) if need_b else None)


class Sub(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, grad: np.ndarray) -> tuple:
        need_a, need_b = self.needs_input_grad
        return (_unbroadcast(grad, self.shapes[0]) if need_a else None,
                _unbroadcast(-grad, self.shapes[1]) if need_b else None)


class Mul(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.a, self.b = a, b
        return a * b

    def backward(self, grad: np.ndarray) -> tuple:
        need_a, need_b = self.needs_input_grad
        return (_unbroadcast(grad * self.b, self.a.shape) if need_a else None,
                _unbroadcast(grad * self.a, self.b.shape) if need_b else None)


class Div(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.a, self.b = a, b
        return a / b

    def backward(self, grad: np.ndarray) -> tuple:
        need_a, need_b = self.needs_input_grad
        grad_a = grad / self.b
        return (_unbroadcast(grad_a, self.a.shape) if need_a else None,
                _unbroadcast(-grad_a * self.a / self.b, self.b.shape) if need_b else None)


class Pow(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.a, self.b = a, b
        self.out = np.power(a, b)
        return self.out

    def backward(self, grad: np.ndarray) -> tuple:
        need_a, need_b = self.needs_input_grad
        grad_a = grad_b = None
        if need_a:
            # d(a^b)/da = b a^(b-1); where b == 0 it is 0, even at a == 0 (0 * inf is nan).
            with np.errstate(divide="ignore", invalid="ignore"):
                local = np.where(self.b == 0, 0, self.b * np.power(self.a, self.b - 1))
            grad_a = _unbroadcast(grad * local, self.a.shape)
        if need_b:
            # d(a^b)/db = a^b log a; PyTorch defines it as 0 where a == 0 (limit for b > 0).
            safe_log = np.log(np.where(self.a == 0, 1, self.a))
            grad_b = _unbroadcast(grad * self.out * safe_log, self.b.shape)
        return grad_a, grad_b


class MatMul(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.a, self.b = a, b
        return a @ b

    def backward(self, grad: np.ndarray) -> tuple:
        a, b = self.a, self.b
        need_a, need_b = self.needs_input_grad
        if a.ndim == 1 and b.ndim == 1:
            return (grad * b if need_a else None), (grad * a if need_b else None)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g = grad
        if a.ndim == 1:
            g = np.expand_dims(g, -2)
        if b.ndim == 1:
            g = np.expand_dims(g, -1)
        grad_a = grad_b = None
        if need_a:
            grad_a = _unbroadcast(g @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if need_b:
            if b2.ndim == 2 and a2.ndim > 2:
                # A weight shared across a batch: one big GEMM instead of a batch then a sum.
                grad_b = a2.reshape(-1, a2.shape[-1]).T @ g.reshape(-1, g.shape[-1])
            else:
                grad_b = _unbroadcast(np.swapaxes(a2, -1, -2) @ g, b2.shape)
            grad_b = grad_b.reshape(b.shape)
        return grad_a, grad_b


def add(a: Any, b: Any) -> Tensor:
    return Add.apply(*_operands(a, b))


def sub(a: Any, b: Any) -> Tensor:
    return Sub.apply(*_operands(a, b))


def mul(a: Any, b: Any) -> Tensor:
    return Mul.apply(*_operands(a, b))


def div(a: Any, b: Any) -> Tensor:
    a, b = _operands(a, b)
    if a.dtype.kind != "f":  # true division, as in PyTorch: int / int -> float32
        a, b = cast(a, np.float32), cast(b, np.float32)
    return Div.apply(a, b)


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001
    return Pow.apply(*_operands(a, b))


def matmul(a: Any, b: Any) -> Tensor:
    a, b = _operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul needs operands with at least 1 dim, got {a.shape} @ {b.shape}")
    return MatMul.apply(a, b)


# ------------------------------------------------------------------- elementwise unary
class Neg(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return -a

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return -grad


class Exp(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        self.out = np.exp(a)
        return self.out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.out


class Log(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        self.a = a
        return np.log(a)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad / self.a


class Sqrt(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        self.out = np.sqrt(a)
        return self.out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad / (2.0 * self.out)


class Tanh(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        self.out = np.tanh(a)
        return self.out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * (1.0 - self.out * self.out)


class Sigmoid(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        self.out = special.expit(a)  # stable for large |a|, unlike 1 / (1 + exp(-a))
        return self.out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.out * (1.0 - self.out)


class ReLU(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        self.positive = a > 0
        return a * self.positive

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.positive


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


_GELU_CUBIC = 0.044715


class GELU(Function):
    """GELU, exact (`x * Phi(x)`) or with the tanh approximation of Hendrycks & Gimpel.

    The tanh form is computed as `x * sigmoid(2u)` with `u = sqrt(2/pi) (x + 0.044715 x^3)`,
    which equals `0.5 x (1 + tanh(u))` but costs an `exp` instead of the slower `tanh`. In a GPT
    this is the largest activation (4x the model width), so every pass runs in place, on chunks
    split over `tinytorch.core.parallel`'s threads; the sigmoid is kept for backward, which then
    needs no transcendental function.
    """

    def forward(self, a: np.ndarray, approximate: str) -> np.ndarray:
        self.a, self.approximate = a, approximate
        if approximate == "tanh":
            self.s, out = np.empty(a.size, a.dtype), np.empty(a.size, a.dtype)
            parallel_rows(_gelu_tanh_forward, (self.s, out), (a.reshape(-1),))
            return out.reshape(a.shape)
        self.cdf = 0.5 * (1.0 + special.erf(a * _INV_SQRT_2))
        return a * self.cdf

    def backward(self, grad: np.ndarray) -> np.ndarray:
        a = self.a
        if self.approximate == "tanh":
            out = np.empty(a.size, a.dtype)
            parallel_rows(_gelu_tanh_backward, (out,), (a.reshape(-1), self.s, grad.reshape(-1)))
            return out.reshape(a.shape)
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * a * a)
        return grad * (self.cdf + a * pdf)


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


class Abs(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        self.sign = np.sign(a)
        return np.abs(a)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.sign


class Clip(Function):
    def forward(self, a: np.ndarray, low: float | None, high: float | None) -> np.ndarray:
        out = np.clip(a, low, high)
        self.inside = out == a  # PyTorch passes the gradient where low <= a <= high
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.inside


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


def exp(x: Tensor) -> Tensor:
    return Exp.apply(_float(x))


def log(x: Tensor) -> Tensor:
    return Log.apply(_float(x))


def sqrt(x: Tensor) -> Tensor:
    return Sqrt.apply(_float(x))


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(_float(x))


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid.apply(_float(x))


def relu(x: Tensor) -> Tensor:
    return ReLU.apply(x)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(_float(x), approximate=approximate)


def abs(x: Tensor) -> Tensor:  # noqa: A001
    return Abs.apply(x)


def clip(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise ValueError("clip needs at least one of min and max")
    if builtins.any(np.asarray(b).dtype.kind == "f" for b in (min, max) if b is not None):
        x = _float(x)  # an integer tensor clipped to float bounds becomes float32, as in PyTorch
    # Python scalars keep x's dtype under NumPy 2 (an np.float64 bound would promote float32).
    scalar = float if x.dtype.kind == "f" else int
    low, high = (None if b is None else scalar(b) for b in (min, max))
    return Clip.apply(x, low=low, high=high)


def _float(x: Tensor) -> Tensor:
    """Transcendental functions of integers give float32, as in PyTorch."""
    return x if x.dtype.kind == "f" else cast(x, np.float32)


# ------------------------------------------------------------------------ reductions
class Sum(Function):
    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
        self.shape = a.shape
        self.axes, self.keepdims = _normalize_axes(axis, a.ndim), keepdims
        return np.asarray(a.sum(axis=self.axes, keepdims=keepdims))

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return np.broadcast_to(_expand_reduced(grad, self.axes, self.keepdims), self.shape)


class Mean(Function):
    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
        self.shape = a.shape
        self.axes, self.keepdims = _normalize_axes(axis, a.ndim), keepdims
        self.count = math.prod(a.shape[i] for i in self.axes)
        return np.asarray(a.mean(axis=self.axes, keepdims=keepdims))

    def backward(self, grad: np.ndarray) -> np.ndarray:
        grad = _expand_reduced(grad, self.axes, self.keepdims) * (1.0 / self.count)
        return np.broadcast_to(grad, self.shape)


class Max(Function):
    """Max reduction; tied maxima share the gradient equally (PyTorch's `amax` rule)."""

    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
        self.axes, self.keepdims = _normalize_axes(axis, a.ndim), keepdims
        out = a.max(axis=self.axes, keepdims=True)
        self.is_max = a == out
        return np.asarray(out if keepdims else np.squeeze(out, self.axes))

    def backward(self, grad: np.ndarray) -> np.ndarray:
        grad = _expand_reduced(grad, self.axes, self.keepdims)
        share = self.is_max / self.is_max.sum(axis=self.axes, keepdims=True).astype(grad.dtype)
        return grad * share


class Var(Function):
    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool, correction: int) -> np.ndarray:
        self.axes, self.keepdims = _normalize_axes(axis, a.ndim), keepdims
        count = math.prod(a.shape[i] for i in self.axes)
        self.denominator = builtins.max(count - correction, 0)
        self.centered = a - a.mean(axis=self.axes, keepdims=True)
        squares = (self.centered * self.centered).sum(axis=self.axes, keepdims=keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(squares / a.dtype.type(self.denominator))

    def backward(self, grad: np.ndarray) -> np.ndarray:
        grad = _expand_reduced(grad, self.axes, self.keepdims)
        # No degrees of freedom left: the variance is nan/inf and so is its gradient (PyTorch).
        scale = 2.0 / self.denominator if self.denominator else math.inf
        with np.errstate(invalid="ignore"):
            return grad * self.centered * scale


def sum(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return Sum.apply(x, axis=axis, keepdims=keepdims)


def mean(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return Mean.apply(_float(x), axis=axis, keepdims=keepdims)


def max(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    if x.size == 0:
        raise ValueError("max of an empty tensor is undefined")
    return Max.apply(x, axis=axis, keepdims=keepdims)


def var(x: Tensor, axis: Axis = None, keepdims: bool = False, correction: int = 1) -> Tensor:
    return Var.apply(_float(x), axis=axis, keepdims=keepdims, correction=correction)


# ------------------------------------------------------------------------- softmaxes
class Softmax(Function):
    def forward(self, a: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        e = np.exp(a - a.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        self.out = e
        return e

    def backward(self, grad: np.ndarray) -> np.ndarray:
        s = self.out
        return s * (grad - (grad * s).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    def forward(self, a: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        shifted = a - a.max(axis=axis, keepdims=True)
        self.out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return self.out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad - np.exp(self.out) * grad.sum(axis=self.axis, keepdims=True)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return Softmax.apply(_float(x), axis=axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return LogSoftmax.apply(_float(x), axis=axis)


# ----------------------------------------------------------------------------- shape
class Reshape(Function):
    def forward(self, a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad.reshape(self.shape)


class Transpose(Function):
    def forward(self, a: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray:
        self.inverse = None if axes is None else tuple(np.argsort(axes))
        return a.transpose(axes)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad.transpose(self.inverse)


def _is_basic_index(index: Any) -> bool:
    """Basic indexing (ints, slices, None, Ellipsis) selects each element at most once."""
    items = index if isinstance(index, tuple) else (index,)
    return all(
        i is None or i is Ellipsis or isinstance(i, slice)
        or (isinstance(i, (int, np.integer)) and not isinstance(i, bool))
        for i in items
    )


class GetItem(Function):
    def forward(self, a: np.ndarray, index: Any) -> np.ndarray:
        self.shape, self.dtype, self.index = a.shape, a.dtype, index
        return np.asarray(a[index])

    def backward(self, grad: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape, dtype=self.dtype)
        if _is_basic_index(self.index):
            out[self.index] = grad
        else:
            np.add.at(out, self.index, grad)  # repeated indices must accumulate
        return out


class Concatenate(Function):
    def forward(self, *arrays: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        self.bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    def backward(self, grad: np.ndarray) -> tuple:
        return tuple(np.split(grad, self.bounds, axis=self.axis))


class Stack(Function):
    def forward(self, *arrays: np.ndarray, axis: int) -> np.ndarray:
        out = np.stack(arrays, axis=axis)
        self.axis = axis % out.ndim
        return out

    def backward(self, grad: np.ndarray) -> tuple:
        return tuple(np.moveaxis(grad, self.axis, 0))


class Where(Function):
    def forward(self, a: np.ndarray, b: np.ndarray, condition: np.ndarray) -> np.ndarray:
        self.condition, self.shapes = condition, (a.shape, b.shape)
        return np.where(condition, a, b)

    def backward(self, grad: np.ndarray) -> tuple:
        need_a, need_b = self.needs_input_grad
        zero = grad.dtype.type(0)
        return (
            _unbroadcast(np.where(self.condition, grad, zero), self.shapes[0]) if need_a else None,
            _unbroadcast(np.where(self.condition, zero, grad), self.shapes[1]) if need_b else None,
        )


def reshape(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    return Reshape.apply(x, shape=tuple(int(s) for s in shape))


def transpose(x: Tensor, axes: tuple[int, ...] | None = None) -> Tensor:
    if axes is not None:  # non-negative, so that argsort in Transpose inverts the permutation
        axes = tuple(normalize_axis(a, x.ndim) for a in axes)
    return Transpose.apply(x, axes=axes)


def _plain_index(index: Any) -> Any:
    """Tensors inside an index become their arrays; lists become arrays (advanced indexing)."""
    if isinstance(index, tuple):
        return tuple(_plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def getitem(x: Tensor, index: Any) -> Tensor:
    return GetItem.apply(x, index=_plain_index(index))


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate needs at least one tensor")
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = _promote(dtype, t.dtype)
    return Concatenate.apply(*(cast(t, dtype) for t in tensors), axis=axis)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = _promote(dtype, t.dtype)
    return Stack.apply(*(cast(t, dtype) for t in tensors), axis=axis)


def split(x: Tensor, split_size_or_sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
    length = x.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        if split_size_or_sections <= 0:
            raise ValueError(f"split size must be positive, got {split_size_or_sections}")
        sizes = [split_size_or_sections] * (length // split_size_or_sections)
        if length % split_size_or_sections:
            sizes.append(length % split_size_or_sections)
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != length:
            raise ValueError(f"split sizes {sizes} do not add up to the axis length {length}")
    prefix = (slice(None),) * (axis % x.ndim)
    starts = np.cumsum([0, *sizes])
    return [x[(*prefix, slice(int(s), int(s) + n))] for s, n in zip(starts, sizes, strict=False)]


def where(condition: Any, a: Any, b: Any) -> Tensor:
    condition = np.asarray(condition.data if isinstance(condition, Tensor) else condition)
    if condition.dtype != np.bool_:
        raise TypeError(f"where() condition must be bool, got dtype {condition.dtype}")
    a, b = _operands(a, b)
    return Where.apply(a, b, condition=condition)


def masked_fill(x: Tensor, mask: Any, value: float) -> Tensor:
    """Put `value` where `mask` is True (PyTorch semantics); the gradient flows elsewhere."""
    return where(mask, Tensor._wrap(np.asarray(value, dtype=x.dtype)), x)

