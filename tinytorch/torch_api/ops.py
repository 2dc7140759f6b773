"""Functions PyTorch offers at the top level (`torch.cat`, `torch.topk`, `torch.exp`, ...), with
PyTorch's argument names: `dim` for the axis, `keepdim`, `input`.

Each is the `Tensor` method or `tinytorch.core.functional` op of the same meaning, applied to
`input` (numbers and arrays are made tensors first); nothing here computes on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tinytorch.core import functional as ops
from tinytorch.core.selection import ValuesIndices
from tinytorch.core.tensor import Tensor, as_tensor

Dims = int | Sequence[int] | None



def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return as_tensor(input).numel()


# --------------------------------------------------------------------- joining and splitting
def cat(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim (dtypes promoted as in PyTorch)."""
    return ops.concatenate(tensors, axis=dim)


concat = concatenate = cat


def stack(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """Join tensors along a new dim."""
    return ops.stack(tensors, axis=dim)


def split(tensor: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> list:
    return as_tensor(tensor).split(split_size_or_sections, dim=dim)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> list:
    return as_tensor(input).chunk(chunks, dim)


def reshape(input: Any, shape: Sequence[int]) -> Tensor:
    return as_tensor(input).reshape(shape)


def transpose(input: Any, dim0: int, dim1: int) -> Tensor:
    return as_tensor(input).transpose(dim0, dim1)


def permute(input: Any, dims: Sequence[int]) -> Tensor:
    return as_tensor(input).permute(dims)


def flatten(input: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return as_tensor(input).flatten(start_dim, end_dim)


def squeeze(input: Any, dim: int | None = None) -> Tensor:
    return as_tensor(input).squeeze(dim)


def unsqueeze(input: Any, dim: int) -> Tensor:
    return as_tensor(input).unsqueeze(dim)


# ------------------------------------------------------------------- selection and masking
def tril(input: Any, diagonal: int = 0) -> Tensor:
    return ops.tril(input, diagonal)


def triu(input: Any, diagonal: int = 0) -> Tensor:
    return ops.triu(input, diagonal)


def topk(input: Any, k: int, dim: int = -1, largest: bool = True,
         sorted: bool = True) -> ValuesIndices:  # noqa: A002
    return ops.topk(input, k, dim, largest, sorted)


def gather(input: Any, dim: int, index: Any) -> Tensor:
    return ops.gather(input, dim, index)


def where(condition: Any, input: Any, other: Any) -> Tensor:
    return ops.where(condition, input, other)


def masked_fill(input: Any, mask: Any, value: float) -> Tensor:
    return as_tensor(input).masked_fill(mask, value)


def argmax(input: Any, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return as_tensor(input).argmax(dim, keepdim)


def argmin(input: Any, dim: int | None = None, keepdim: bool = False) -> Tensor:
    return as_tensor(input).argmin(dim, keepdim)


def max(input: Any, dim: int | None = None, keepdim: bool = False) -> Any:  # noqa: A001
    """The largest element, or with `dim` the pair (values, indices)."""
    return as_tensor(input).max(dim, keepdim)


def min(input: Any, dim: int | None = None, keepdim: bool = False) -> Any:  # noqa: A001
    return as_tensor(input).min(dim, keepdim)


def amax(input: Any, dim: Dims = (), keepdim: bool = False) -> Tensor:
    return as_tensor(input).amax(dim, keepdim)


def amin(input: Any, dim: Dims = (), keepdim: bool = False) -> Tensor:
    return as_tensor(input).amin(dim, keepdim)


# ------------------------------------------------------------------------------ reductions
def sum(input: Any, dim: Dims = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return as_tensor(input).sum(dim=dim, keepdim=keepdim)


def mean(input: Any, dim: Dims = None, keepdim: bool = False) -> Tensor:
    return as_tensor(input).mean(dim=dim, keepdim=keepdim)


def var(input: Any, dim: Dims = None, *, correction: int = 1, keepdim: bool = False) -> Tensor:
    return as_tensor(input).var(dim=dim, keepdim=keepdim, correction=correction)


def softmax(input: Any, dim: int) -> Tensor:
    return ops.softmax(as_tensor(input), dim)


def log_softmax(input: Any, dim: int) -> Tensor:
    return ops.log_softmax(as_tensor(input), dim)


# ------------------------------------------------------------------------------- pointwise
def exp(input: Any) -> Tensor:
    return ops.exp(as_tensor(input))


def log(input: Any) -> Tensor:
    return ops.log(as_tensor(input))


def sqrt(input: Any) -> Tensor:
    return ops.sqrt(as_tensor(input))


def rsqrt(input: Any) -> Tensor:
    return as_tensor(input).rsqrt()


def tanh(input: Any) -> Tensor:
    return ops.tanh(as_tensor(input))


def sigmoid(input: Any) -> Tensor:
    return ops.sigmoid(as_tensor(input))


def relu(input: Any) -> Tensor:
    return ops.relu(as_tensor(input))


def abs(input: Any) -> Tensor:  # noqa: A001
    return ops.abs(as_tensor(input))


def pow(input: Any, exponent: Any) -> Tensor:  # noqa: A001
    return ops.pow(input, exponent)


def clamp(input: Any, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    return ops.clip(as_tensor(input), min, max)


clip = clamp


def matmul(input: Any, other: Any) -> Tensor:
    return ops.matmul(input, other)


def clone(input: Any) -> Tensor:
    return ops.clone(as_tensor(input))
