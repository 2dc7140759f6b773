"""Ops that move elements without computing on them: reshape, transpose, indexing, joining, split.

Their gradients move the upstream gradient back: reshape and transpose invert themselves, indexing
scatters (accumulating repeated indices), concatenate and stack split.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinytorch.core.autograd import Function
from tinytorch.core.casting import cast, promote
from tinytorch.core.checks import is_int
from tinytorch.core.tensor import Tensor, normalize_axis


class Reshape(Function):
    def forward(self, a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad.reshape(self.shape)


def reshape(x: Tensor, shape: tuple[int, ...]) -> Tensor:
    for size in shape:  # int() would truncate 2.5 to 2 and hide the caller's mistake
        if not is_int(size):
            raise TypeError(f"reshape sizes must be integers, got {size!r} in {tuple(shape)}")
    return Reshape.apply(x, shape=tuple(int(s) for s in shape))


class Transpose(Function):
    def forward(self, a: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray:
        self.inverse = None if axes is None else tuple(np.argsort(axes))
        return a.transpose(axes)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad.transpose(self.inverse)


def transpose(x: Tensor, axes: tuple[int, ...] | None = None) -> Tensor:
    if axes is not None:  # non-negative, so that argsort in Transpose inverts the permutation
        axes = tuple(normalize_axis(a, x.ndim) for a in axes)
    return Transpose.apply(x, axes=axes)


def is_basic_index(index: Any) -> bool:
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
        if is_basic_index(self.index):
            out[self.index] = grad
        else:
            np.add.at(out, self.index, grad)  # repeated indices must accumulate
        return out


def plain_index(index: Any) -> Any:
    """Tensors inside an index become their arrays; lists become arrays (advanced indexing)."""
    if isinstance(index, tuple):
        return tuple(plain_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


def getitem(x: Tensor, index: Any) -> Tensor:
    return GetItem.apply(x, index=plain_index(index))


def _promoted(tensors: Sequence[Any], op: str) -> list[Tensor]:
    """Tensors to join, cast to one dtype by PyTorch's promotion rules."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError(f"{op} needs at least one tensor")
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = promote(dtype, t.dtype)
    return [cast(t, dtype) for t in tensors]


class Concatenate(Function):
    def forward(self, *arrays: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        self.bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    def backward(self, grad: np.ndarray) -> tuple:
        return tuple(np.split(grad, self.bounds, axis=self.axis))


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    return Concatenate.apply(*_promoted(tensors, "concatenate"), axis=axis)


class Stack(Function):
    def forward(self, *arrays: np.ndarray, axis: int) -> np.ndarray:
        out = np.stack(arrays, axis=axis)
        self.axis = axis % out.ndim
        return out

    def backward(self, grad: np.ndarray) -> tuple:
        return tuple(np.moveaxis(grad, self.axis, 0))


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    return Stack.apply(*_promoted(tensors, "stack"), axis=axis)


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
