"""Ops that pick elements by position or by value: gather, topk, max/min along a dim with their
indices, argmax/argmin, and the triangles tril/triu.

Picking by value is split in two: the indices are found on plain arrays (no gradient, as in
PyTorch), then `Gather` takes the values at those indices, and its backward puts the gradient
back at exactly those positions. So `max(dim)` sends its gradient to the one index it returns
(PyTorch's rule for `max(dim)`), unlike the reduction `amax`, which shares it among ties.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from tinytorch.core.autograd import Function
from tinytorch.core.checks import is_int
from tinytorch.core.tensor import Tensor, as_tensor, normalize_axis


class ValuesIndices(NamedTuple):
    """What `max(dim)`, `min(dim)` and `topk` return, like PyTorch's `torch.return_types`."""

    values: Tensor
    indices: Tensor


class Gather(Function):
    """out = take_along_axis(a, index, dim) (`torch.gather`); backward adds grad at the index."""

    def forward(self, a: np.ndarray, index: np.ndarray, dim: int, unique: bool) -> np.ndarray:
        self.shape, self.index, self.dim, self.unique = a.shape, index, dim, unique
        return np.take_along_axis(a, index, axis=dim)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape, dtype=grad.dtype)
        if self.unique:  # each position picked at most once (topk, max): a plain scatter
            np.put_along_axis(out, self.index, grad, axis=self.dim)
        else:
            positions = list(np.indices(self.index.shape, sparse=True))
            positions[self.dim] = self.index
            np.add.at(out, tuple(positions), grad)
        return out



def gather(x: Any, dim: int, index: Any) -> Tensor:
    """`torch.gather`: out[i][j] = x[i][index[i][j]] for dim=1; index is an integer tensor."""
    x = as_tensor(x)
    index = as_tensor(index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"gather index must be an integer tensor, got dtype {index.dtype}")
    if index.ndim != x.ndim:
        raise ValueError(f"gather index must have {x.ndim} dims like the input, got {index.ndim}")
    dim = normalize_axis(dim, x.ndim)
    return Gather.apply(x, index=index.data, dim=dim, unique=False)


def _along(x: Tensor, dim: int, what: str) -> int:
    """`dim` as a non-negative axis of x along which something is picked (it must not be empty)."""
    if x.ndim == 0:
        dim = normalize_axis(dim, 1)
        return 0
    dim = normalize_axis(dim, x.ndim)
    if x.shape[dim] == 0:
        raise ValueError(f"{what}: dim {dim} of shape {x.shape} is empty, nothing to pick from")
    return dim


def _pick(x: Tensor, index: np.ndarray, dim: int, keepdim: bool) -> ValuesIndices:
    """Values (differentiable) and int64 indices at `index` (with a kept size-1 `dim`)."""
    if x.ndim == 0:
        return ValuesIndices(x, Tensor._wrap(np.zeros((), np.int64)))
    values = Gather.apply(x, index=index, dim=dim, unique=True)
    indices = Tensor._wrap(index.astype(np.int64, copy=False))
    if not keepdim:
        values, indices = values.squeeze(dim), indices.squeeze(dim)
    return ValuesIndices(values, indices)


def max_with_indices(x: Tensor, dim: int, keepdim: bool = False) -> ValuesIndices:
    """PyTorch's `max(dim)`: the largest value along `dim` and the index of its first occurrence."""
    dim = _along(x, dim, "max")
    return _pick(x, np.argmax(x.data, axis=dim, keepdims=True) if x.ndim else None, dim, keepdim)


def min_with_indices(x: Tensor, dim: int, keepdim: bool = False) -> ValuesIndices:
    dim = _along(x, dim, "min")
    return _pick(x, np.argmin(x.data, axis=dim, keepdims=True) if x.ndim else None, dim, keepdim)


def _arg(pick: Any, x: Tensor, dim: int | None, keepdim: bool) -> Tensor:
    if x.data.size == 0:
        raise ValueError("argmax/argmin of an empty tensor is undefined")
    if dim is None:  # over all elements; PyTorch ignores keepdim here
        return Tensor._wrap(np.asarray(pick(x.data), dtype=np.int64))
    dim = _along(x, dim, "argmax/argmin")
    index = pick(x.data, axis=dim, keepdims=keepdim) if x.ndim else np.zeros((), np.int64)
    return Tensor._wrap(np.asarray(index, dtype=np.int64))


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the first largest element (int64, no gradient), over all elements or along dim."""
    return _arg(np.argmax, x, dim, keepdim)


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return _arg(np.argmin, x, dim, keepdim)


def topk(
    x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True  # noqa: A002
) -> ValuesIndices:
    """The k largest (or smallest) elements along `dim` and their indices, largest first.

    The result is always sorted (PyTorch allows any order for `sorted=False`); NaN counts as the
    largest value, as in PyTorch.
    """
    x = as_tensor(x)
    length = x.shape[normalize_axis(dim, x.ndim)] if x.ndim else 1
    if not is_int(k) or not 0 <= k <= length:
        raise ValueError(f"topk: k must be an integer in [0, {length}] (the dim's size), got {k!r}")
    if x.ndim == 0:
        return _pick(x, None, 0, True)
    dim = normalize_axis(dim, x.ndim)
    a = x.data
    if k == 0:
        index = np.zeros((*a.shape[:dim], 0, *a.shape[dim + 1 :]), np.int64)
    elif largest:
        index = np.argpartition(a, length - k, axis=dim).take(range(length - k, length), axis=dim)
    else:
        index = np.argpartition(a, k - 1, axis=dim).take(range(k), axis=dim)
    order = np.argsort(np.take_along_axis(a, index, axis=dim), axis=dim, kind="stable")
    if largest:
        order = np.flip(order, axis=dim)
    return _pick(x, np.take_along_axis(index, order, axis=dim), dim, True)


class Triangle(Function):
    """Keep the lower (tril) or upper (triu) triangle of the last two axes, zero the rest."""

    def forward(self, a: np.ndarray, diagonal: int, upper: bool) -> np.ndarray:
        self.keep = np.triu if upper else np.tril
        self.diagonal = diagonal
        return self.keep(a, diagonal)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return self.keep(grad, self.diagonal)


def _triangle(x: Any, diagonal: int, upper: bool) -> Tensor:
    x = as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"tril/triu need a tensor with at least 2 dims, got shape {x.shape}")
    if not is_int(diagonal):
        raise TypeError(f"diagonal must be an integer, got {diagonal!r}")
    return Triangle.apply(x, diagonal=int(diagonal), upper=upper)


def tril(x: Any, diagonal: int = 0) -> Tensor:
    """Lower triangle: elements (i, j) with j <= i + diagonal are kept (PyTorch semantics)."""
    return _triangle(x, diagonal, upper=False)


def triu(x: Any, diagonal: int = 0) -> Tensor:
    return _triangle(x, diagonal, upper=True)
