"""The `Tensor` methods that PyTorch code calls and NumPy spells differently or not at all.

`Tensor` inherits them from `PyTorchMethods`. Where the two libraries disagree, PyTorch's meaning
wins: `size()` is a method returning the shape as a `Size` (NumPy's `.size` is `numel()` here),
`max(dim)` returns values and indices (in tensor.py, beside the reductions). The ops themselves
live with their Functions (`selection.py`, `assignment.py`, `casting.py`); these methods only
forward to them.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

# The package, not its modules: the op modules import `Tensor`, which is built from this class,
# so they are looked up when a method runs (tensor.py loads them right after defining Tensor).
from tinytorch import core
from tinytorch.core.checks import check_positive
from tinytorch.core.devices import CPU, check_device, device, to_arguments
from tinytorch.core.dtypes import float16


class Size(tuple):
    """A shape, as `Tensor.size()` returns it: a tuple of ints (PyTorch's `torch.Size`)."""

    def numel(self) -> int:
        return math.prod(self)

    def __repr__(self) -> str:
        return f"tinytorch.Size({list(self)})"


class PyTorchMethods:
    __slots__ = ()
    data: np.ndarray

    # ------------------------------------------------------------------------------- shape
    def size(self, dim: int | None = None) -> Size | int:
        """The shape (a `Size`), or the length of axis `dim` (PyTorch; NumPy's size is numel)."""
        if dim is None:
            return Size(self.data.shape)
        return self.data.shape[core.tensor.normalize_axis(dim, self.data.ndim)]

    def dim(self) -> int:
        return self.data.ndim

    ndimension = dim

    def numel(self) -> int:
        """The number of elements."""
        return self.data.size

    nelement = numel

    def is_contiguous(self) -> bool:
        return bool(self.data.flags.c_contiguous)

    def contiguous(self) -> Any:
        """Itself when its array is C-contiguous, else a contiguous copy (as in PyTorch)."""
        return self if self.data.flags.c_contiguous else core.functional.clone(self)

    def t(self) -> Any:
        """Transpose of a tensor with at most 2 dims."""
        if self.data.ndim > 2:
            raise ValueError(f"t() expects a tensor with <= 2 dims, got shape {self.data.shape}")
        return self.transpose() if self.data.ndim == 2 else self

    def chunk(self, chunks: int, dim: int = 0) -> list:
        """At most `chunks` pieces of equal size (the last may be smaller), as in PyTorch."""
        check_positive(chunks=chunks)
        length = self.data.shape[core.tensor.normalize_axis(dim, self.data.ndim)]
        return self.split(max(1, -(-length // chunks)), dim=dim)

    # ----------------------------------------------------------------- devices and dtypes
    @property
    def device(self) -> device:
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    def cpu(self) -> Any:
        return self

    def cuda(self, device: Any = None, **_: Any) -> Any:
        check_device("cuda" if device is None else device)  # raises: tinytorch is CPU-only
        return self

    def to(self, *args: Any, **kwargs: Any) -> Any:
        """PyTorch's `to`: a dtype (a differentiable cast), the CPU, a tensor (its dtype), or
        keywords; returns the tensor itself when nothing changes, unless `copy=True`."""
        dtype, copy = to_arguments(args, kwargs)
        out = self if dtype is None else core.functional.cast(self, dtype)
        return core.functional.clone(out) if copy and out is self else out

    def bool(self) -> Any:
        return self.to(np.bool_)

    def int(self) -> Any:
        return self.to(np.int32)

    def half(self) -> Any:
        return self.to(float16)  # raises: half precision is not supported

    # ------------------------------------------------------------------- Python numbers
    def __float__(self) -> float:
        return float(self._one_element("float").item())

    def __int__(self) -> int:
        return int(self._one_element("int").item())

    def __index__(self) -> int:
        """Integer tensors of one element can index and slice Python sequences and arrays."""
        if self.data.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, got {self.data.dtype}")
        return int(self._one_element("index").item())

    def _one_element(self, what: str) -> np.ndarray:
        if self.data.size != 1:
            raise TypeError(
                f"only a tensor with one element converts to a Python {what}, got shape "
                f"{self.data.shape}"
            )
        return self.data

    def __iter__(self) -> Iterator:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    # --------------------------------------------------------------------------- selection
    def topk(
        self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True  # noqa: A002
    ) -> Any:
        return core.functional.topk(self, k, dim, largest, sorted)

    def gather(self, dim: int, index: Any) -> Any:
        return core.functional.gather(self, dim, index)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Any:
        return core.functional.argmin(self, dim, keepdim)

    # ---------------------------------------------------------------------- in-place writes
    def __setitem__(self, index: Any, value: Any) -> None:
        core.functional.setitem_(self, index, value)

    def fill_(self, value: Any) -> Any:
        return core.functional.fill_(self, value)

    def zero_(self) -> Any:
        return core.functional.zero_(self)

    def copy_(self, source: Any, non_blocking: bool = False) -> Any:
        return core.functional.copy_(self, source)

    def normal_(self, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Any:
        return core.functional.normal_(self, mean, std, generator=generator)

    def uniform_(self, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Any:
        return core.functional.uniform_(self, a, b, generator=generator)

    def clone(self) -> Any:
        return core.functional.clone(self)

    # -------------------------------------------------------------------------------- math
    def pow(self, exponent: Any) -> Any:
        return core.functional.pow(self, exponent)

    def rsqrt(self) -> Any:
        return core.functional.pow(self, -0.5)
