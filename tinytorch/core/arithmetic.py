"""Binary arithmetic, matrix products and selection: `+ - * / **`, `@`, `where`, `masked_fill`.

Operands are lifted and promoted by `tinytorch.core.casting.operands`; the gradient of a broadcast
operand is summed back to its shape (`unbroadcast`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.autograd import Function, unbroadcast
from tinytorch.core.casting import cast, operands
from tinytorch.core.tensor import Tensor


class Add(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.shapes = a.shape, b.shape
        return a + b

    def backward(self, grad: np.ndarray) -> tuple:
        need_a, need_b = self.needs_input_grad
        return (unbroadcast(grad, self.shapes[0]) if need_a else None,
                unbroadcast(grad, self.shapes[1]) if need_b else None)


def add(a: Any, b: Any) -> Tensor:
    return Add.apply(*operands(a, b))


class Sub(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.shapes = a.shape, b.shape
        return a - b

    def backward(self, grad: np.ndarray) -> tuple:
        need_a, need_b = self.needs_input_grad
        return (unbroadcast(grad, self.shapes[0]) if need_a else None,
                unbroadcast(-grad, self.shapes[1]) if need_b else None)


def sub(a: Any, b: Any) -> Tensor:
    return Sub.apply(*operands(a, b))


class Mul(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.a, self.b = a, b
        return a * b

    def backward(self, grad: np.ndarray) -> tuple:
        need_a, need_b = self.needs_input_grad
        return (unbroadcast(grad * self.b, self.a.shape) if need_a else None,
                unbroadcast(grad * self.a, self.b.shape) if need_b else None)


def mul(a: Any, b: Any) -> Tensor:
    return Mul.apply(*operands(a, b))


class Div(Function):
    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        self.a, self.b = a, b
        return a / b

    def backward(self, grad: np.ndarray) -> tuple:
        need_a, need_b = self.needs_input_grad
        grad_a = grad / self.b
        return (unbroadcast(grad_a, self.a.shape) if need_a else None,
                unbroadcast(-grad_a * self.a / self.b, self.b.shape) if need_b else None)


def div(a: Any, b: Any) -> Tensor:
    a, b = operands(a, b)
    if a.dtype.kind != "f":  # true division, as in PyTorch: int / int -> float32
        a, b = cast(a, np.float32), cast(b, np.float32)
    return Div.apply(a, b)


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
            grad_a = unbroadcast(grad * local, self.a.shape)
        if need_b:
            # d(a^b)/db = a^b log a; PyTorch defines it as 0 where a == 0 (limit for b > 0).
            safe_log = np.log(np.where(self.a == 0, 1, self.a))
            grad_b = unbroadcast(grad * self.out * safe_log, self.b.shape)
        return grad_a, grad_b


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001
    return Pow.apply(*operands(a, b))


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
            grad_a = unbroadcast(g @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if need_b:
            if b2.ndim == 2 and a2.ndim > 2:
                # A weight shared across a batch: one big GEMM instead of a batch then a sum.
                grad_b = a2.reshape(-1, a2.shape[-1]).T @ g.reshape(-1, g.shape[-1])
            else:
                grad_b = unbroadcast(np.swapaxes(a2, -1, -2) @ g, b2.shape)
            grad_b = grad_b.reshape(b.shape)
        return grad_a, grad_b


def matmul(a: Any, b: Any) -> Tensor:
    """a @ b with NumPy's (and PyTorch's) rules; shapes that do not fit are refused here, in
    our words naming both shapes, not in NumPy's gufunc signature."""
    a, b = operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul needs operands with at least 1 dim, got {a.shape} @ {b.shape}")
    inner_b, which = (b.shape[0], "first") if b.ndim == 1 else (b.shape[-2], "second-to-last")
    if a.shape[-1] != inner_b:
        raise ValueError(
            f"matmul shapes {a.shape} @ {b.shape} do not fit: the first operand's last "
            f"dimension ({a.shape[-1]}) must equal the second operand's {which} dimension "
            f"({inner_b})"
        )
    if a.ndim > 2 and b.ndim > 2:  # otherwise one side has no batch dimensions to clash
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(
                f"matmul shapes {a.shape} @ {b.shape} do not fit: their batch dimensions "
                f"{a.shape[:-2]} and {b.shape[:-2]} do not broadcast"
            ) from None
    return MatMul.apply(a, b)


class Where(Function):
    def forward(self, a: np.ndarray, b: np.ndarray, condition: np.ndarray) -> np.ndarray:
        self.condition, self.shapes = condition, (a.shape, b.shape)
        return np.where(condition, a, b)

    def backward(self, grad: np.ndarray) -> tuple:
        need_a, need_b = self.needs_input_grad
        zero = grad.dtype.type(0)
        return (
            unbroadcast(np.where(self.condition, grad, zero), self.shapes[0]) if need_a else None,
            unbroadcast(np.where(self.condition, zero, grad), self.shapes[1]) if need_b else None,
        )


def where(condition: Any, a: Any, b: Any) -> Tensor:
    condition = np.asarray(condition.data if isinstance(condition, Tensor) else condition)
    if condition.dtype != np.bool_:
        raise TypeError(f"where() condition must be bool, got dtype {condition.dtype}")
    a, b = operands(a, b)
    return Where.apply(a, b, condition=condition)


def masked_fill(x: Tensor, mask: Any, value: float) -> Tensor:
    """Put `value` where `mask` is True (PyTorch semantics); the gradient flows elsewhere."""
    return where(mask, Tensor._wrap(np.asarray(value, dtype=x.dtype)), x)
