"""The basic layers: Linear, LayerNorm, Dropout and the activation modules ReLU and GELU.

Linear and LayerNorm are fused `Function`s (one graph node each, with hand-written gradients)
because they dominate a transformer's step; each sits right above the layer that applies it.
`Module`, `Parameter` and the containers are re-exported here: `tinytorch.core.layers` is the
import path of the TinyTorch module map.
"""

from __future__ import annotations

import math

import numpy as np

from tinytorch.core.autograd import Function
from tinytorch.core.casting import cast
from tinytorch.core.checks import check_positive
from tinytorch.core.containers import ModuleList, Sequential
from tinytorch.core.elementwise import gelu, relu
from tinytorch.core.module import Module, Parameter
from tinytorch.core.parallel import parallel_rows
from tinytorch.core.random import default_generator
from tinytorch.core.tensor import Tensor

__all__ = [
    "GELU",
    "Dropout",
    "LayerNorm",
    "Linear",
    "Module",
    "ModuleList",
    "Parameter",
    "ReLU",
    "Sequential",
    "dropout",
    "linear",
]


# ------------------------------------------------------------------------------ Linear
class LinearFunction(Function):
    """y = x @ W.T + b with W of shape (out, in), as in PyTorch.

    Leading axes are folded into one before each product: one (N, in) @ (in, out) GEMM is
    faster than NumPy's loop of per-batch GEMMs over a (B, T, in) stack.
    """

    def forward(self, x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None
                ) -> np.ndarray:
        self.x, self.weight = x, weight
        out = x.reshape(-1, x.shape[-1]) @ weight.T
        if bias is not None:
            out += bias
        return out.reshape(*x.shape[:-1], weight.shape[0])

    def backward(self, grad: np.ndarray) -> tuple:
        need_x, need_w, *need_b = self.needs_input_grad
        grad_2d = grad.reshape(-1, grad.shape[-1])
        grad_x = (grad_2d @ self.weight).reshape(self.x.shape) if need_x else None
        grad_w = grad_2d.T @ self.x.reshape(-1, self.x.shape[-1]) if need_w else None
        if not need_b:
            return grad_x, grad_w
        return grad_x, grad_w, (grad_2d.sum(axis=0) if need_b[0] else None)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    if x.shape[-1:] != weight.shape[1:]:
        raise ValueError(
            f"linear: input has {x.shape[-1] if x.ndim else 'no'} features (shape {x.shape}), "
            f"weight expects {weight.shape[1]}"
        )
    x = cast(x, weight.dtype)
    args = (x, weight) if bias is None else (x, weight, bias)
    return LinearFunction.apply(*args)


def _uniform(shape: tuple[int, ...], bound: float) -> np.ndarray:
    return default_generator().uniform(-bound, bound, size=shape).astype(np.float32, copy=False)


class Linear(Module):
    """Affine map with PyTorch's layout (`weight` is (out, in)) and initialisation."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        check_positive(in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / math.sqrt(in_features)  # kaiming_uniform(a=sqrt(5)) reduces to this
        self.weight = Parameter(_uniform((out_features, in_features), bound))
        self.bias = Parameter(_uniform((out_features,), bound)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return linear(x if isinstance(x, Tensor) else Tensor(x), self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"bias={self.bias is not None}"


# --------------------------------------------------------------------------- LayerNorm
class LayerNormFunction(Function):
    """Normalise over the trailing axes, then scale and shift; the gradient in closed form.

    Works on an (N, D) view (D = the normalised size), in row chunks split over
    `tinytorch.core.parallel`'s threads. Row sums and row dot products (`einsum`) need no
    (N, D) temporaries and give each row the same bits whatever the chunk (a BLAS
    matrix-vector product would not), and the other passes run in place:
    forward allocates only its output and keeps the input (alive in the graph anyway) with the
    per-row mean and 1/std; backward recomputes the normalised input from them.
    """

    def forward(self, x: np.ndarray, weight: np.ndarray | None = None,
                bias: np.ndarray | None = None, *, axes: tuple[int, ...], eps: float
                ) -> np.ndarray:
        size = math.prod(x.shape[i] for i in axes)
        self.rows = x.reshape(-1, size)
        self.shape, self.param_shape = x.shape, x.shape[x.ndim - len(axes):]
        self.weight = None if weight is None else weight.reshape(-1)
        out = np.empty(self.rows.shape, dtype=x.dtype)
        self.mean = np.empty((self.rows.shape[0], 1), dtype=x.dtype)
        self.rstd = np.empty_like(self.mean)
        flat_bias = None if bias is None else bias.reshape(-1)

        def normalize(out: np.ndarray, mean: np.ndarray, rstd: np.ndarray, rows: np.ndarray
                      ) -> None:
            mean[:, 0] = np.einsum("ij->i", rows) * (1.0 / size)
            np.subtract(rows, mean, out=out)
            variance = np.einsum("ij,ij->i", out, out) * (1.0 / size)
            rstd[:, 0] = 1.0 / np.sqrt(variance + eps)
            out *= rstd
            if self.weight is not None:
                out *= self.weight
            if flat_bias is not None:
                out += flat_bias

        parallel_rows(normalize, (out, self.mean, self.rstd), (self.rows,))
        return out.reshape(x.shape)

    def backward(self, grad: np.ndarray) -> tuple:
        xhat = np.empty(self.rows.shape, dtype=self.rows.dtype)
        parallel_rows(_normalized, (xhat,), (self.rows, self.mean, self.rstd))
        grad_rows = grad.reshape(xhat.shape)
        grads: list[np.ndarray | None] = [None, None, None][: len(self.needs_input_grad)]
        if len(grads) > 1 and self.needs_input_grad[1]:
            grads[1] = np.einsum("ij,ij->j", grad_rows, xhat).reshape(self.param_shape)
        if len(grads) > 2 and self.needs_input_grad[2]:
            grads[2] = grad_rows.sum(axis=0).reshape(self.param_shape)
        if self.needs_input_grad[0]:
            # rstd * (grad_xhat - mean(grad_xhat) - xhat * mean(grad_xhat * xhat)), in xhat
            def input_grad(grad_x: np.ndarray, grad_rows: np.ndarray, rstd: np.ndarray) -> None:
                weight = self.weight
                grad_xhat = grad_rows if weight is None else grad_rows * weight
                inverse_size = 1.0 / grad_x.shape[1]
                mean_g = np.einsum("ij->i", grad_xhat)[:, None] * inverse_size
                mean_gx = np.einsum("ij,ij->i", grad_xhat, grad_x) * inverse_size
                grad_x *= mean_gx[:, None]
                np.subtract(grad_xhat, grad_x, out=grad_x)
                grad_x -= mean_g
                grad_x *= rstd

            parallel_rows(input_grad, (xhat,), (grad_rows, self.rstd))
            grads[0] = xhat.reshape(self.shape)
        return tuple(grads)


def _normalized(xhat: np.ndarray, rows: np.ndarray, mean: np.ndarray, rstd: np.ndarray) -> None:
    np.subtract(rows, mean, out=xhat)
    xhat *= rstd


class LayerNorm(Module):
    """Layer normalisation over the last `len(normalized_shape)` axes (PyTorch semantics)."""

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(
            normalized_shape)
        check_positive(**{f"normalized_shape[{i}]": n for i, n in enumerate(shape)})
        if eps <= 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.normalized_shape, self.eps = shape, float(eps)
        self.weight = Parameter(np.ones(shape, np.float32)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, np.float32)) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        k = len(self.normalized_shape)
        if x.shape[x.ndim - k:] != self.normalized_shape:
            raise ValueError(
                f"LayerNorm{self.normalized_shape}: input shape {x.shape} does not end with "
                f"{self.normalized_shape}"
            )
        args = [x] + [p for p in (self.weight, self.bias) if p is not None]
        axes = tuple(range(x.ndim - k, x.ndim))
        return LayerNormFunction.apply(*args, axes=axes, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


# ----------------------------------------------------------------------------- Dropout
class DropoutFunction(Function):
    def forward(self, x: np.ndarray, p: float) -> np.ndarray:
        keep = default_generator().random(x.shape, dtype=np.float32) >= p
        self.mask = keep * x.dtype.type(1.0 / (1.0 - p))
        return x * self.mask

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.mask


def dropout(x: Tensor, p: float, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    return DropoutFunction.apply(x, p=float(p))


class Dropout(Module):
    """Dropout that is active in `train()` mode and the identity in `eval()` mode."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# ------------------------------------------------------------------ activations, containers
class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return relu(x)


class GELU(Module):
    """GELU; `approximate='tanh'` is the GPT-2 variant."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"
