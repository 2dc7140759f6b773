"""Reductions over axes: sum, mean, max, var, and the softmaxes (normalised along one axis)."""

from __future__ import annotations

import builtins
import math

import numpy as np

from tinytorch.core.autograd import Function
from tinytorch.core.casting import as_float
from tinytorch.core.tensor import Axis, Tensor, normalize_axis


def _normalize_axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(normalize_axis(a, ndim) for a in axes)) if ndim else ()


def _expand_reduced(grad: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """Give a reduced gradient back the size-1 axes that the reduction removed."""
    return grad if keepdims else np.expand_dims(grad, axes)


class Sum(Function):
    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
        self.shape = a.shape
        self.axes, self.keepdims = _normalize_axes(axis, a.ndim), keepdims
        return np.asarray(a.sum(axis=self.axes, keepdims=keepdims))

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return np.broadcast_to(_expand_reduced(grad, self.axes, self.keepdims), self.shape)


def sum(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return Sum.apply(x, axis=axis, keepdims=keepdims)


class Mean(Function):
    def forward(self, a: np.ndarray, axis: Axis, keepdims: bool) -> np.ndarray:
        self.shape = a.shape
        self.axes, self.keepdims = _normalize_axes(axis, a.ndim), keepdims
        self.count = math.prod(a.shape[i] for i in self.axes)
        return np.asarray(a.mean(axis=self.axes, keepdims=keepdims))

    def backward(self, grad: np.ndarray) -> np.ndarray:
        grad = _expand_reduced(grad, self.axes, self.keepdims) * (1.0 / self.count)
        return np.broadcast_to(grad, self.shape)


def mean(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return Mean.apply(as_float(x), axis=axis, keepdims=keepdims)


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


def max(x: Tensor, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    if x.data.size == 0:
        raise ValueError("max of an empty tensor is undefined")
    return Max.apply(x, axis=axis, keepdims=keepdims)


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


def var(x: Tensor, axis: Axis = None, keepdims: bool = False, correction: int = 1) -> Tensor:
    return Var.apply(as_float(x), axis=axis, keepdims=keepdims, correction=correction)


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


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return Softmax.apply(as_float(x), axis=axis)


class LogSoftmax(Function):
    def forward(self, a: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        shifted = a - a.max(axis=axis, keepdims=True)
        self.out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return self.out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad - np.exp(self.out) * grad.sum(axis=self.axis, keepdims=True)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return LogSoftmax.apply(as_float(x), axis=axis)
