"""`Tensor`: a NumPy array plus the bookkeeping autograd needs.

The class is deliberately thin: every differentiable method calls an op function (gathered in
`tinytorch.core.functional`), which sits right below the `Function` holding its math and its
gradient.

Dtype rules (see docs/design.md): floating input becomes float32 unless a dtype is given,
integer input becomes int64 (token ids stay exact), bool stays bool. Ops preserve their input
dtype, so float32 never silently turns into float64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinytorch.core.pytorch_methods import PyTorchMethods

Axis = int | Sequence[int] | None


def _as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """A new array (like `torch.tensor`, never an alias of the caller's array) of the right dtype.

    Copying matters: optimizers and `load_state_dict` update `.data` in place, which must not
    write into the array the caller built the tensor from.
    """
    if isinstance(data, Tensor):
        data = data.data
    array = np.asarray(data)
    if dtype is not None:
        return array.astype(dtype)
    kind = array.dtype.kind
    if kind == "f":
        return array.astype(np.float32)
    if kind == "u" and array.size and array.max() > np.iinfo(np.int64).max:
        raise ValueError(
            f"integer value {array.max()} does not fit in int64 "
            f"(allowed: up to {np.iinfo(np.int64).max})"
        )
    if kind in "iu":
        return array.astype(np.int64)
    if kind == "b":
        return array.copy()
    raise TypeError(
        f"Tensor data must be numeric or bool, got dtype {array.dtype} "
        "(allowed: floats -> float32, integers -> int64, bool)"
    )


def as_tensor(x: Any) -> Tensor:
    """`x` if it is a Tensor, else a new Tensor of it (what an op does with a plain operand)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def normalize_axis(axis: int, ndim: int) -> int:
    """`axis` as a non-negative index into `ndim` axes; out of range is an error, not a wrap."""
    if not -ndim <= axis < ndim:
        raise IndexError(
            f"axis {axis} is out of range for a tensor with {ndim} dims "
            f"(allowed: {-ndim} to {ndim - 1})"
        )
    return axis % ndim


def integer_array(
    value: Any, message: str, to_array: Callable[[Any], np.ndarray] = np.asarray
) -> np.ndarray:
    """The ids or class indices in `value` (a Tensor, an array or nested sequences) as integers.

    Ids are never cast: a float or bool dtype raises TypeError(message), even for whole numbers;
    `message` may name the dtype as `{dtype}`. An empty Python sequence has no element type and
    becomes an empty int64 array. `to_array` converts anything that is not a Tensor.
    """
    array = value.data if isinstance(value, Tensor) else to_array(value)
    if array.size == 0 and not isinstance(value, (np.ndarray, Tensor)):
        array = array.astype(np.int64)
    if array.dtype.kind not in "iu":
        raise TypeError(message.format(dtype=array.dtype))
    return array


def _pick_axis(axis: Axis, dim: Axis) -> Axis:
    """Accept NumPy's `axis` and PyTorch's `dim` spellings of the same argument."""
    if dim is not None:
        if axis is not None:
            raise TypeError("pass either axis or dim, not both")
        return dim
    return axis


def _one_dim(name: str, axis: Axis, dim: Axis) -> int | None:
    """The one dim of PyTorch's max(dim) / min(dim), which return (values, indices)."""
    dim = _pick_axis(axis, dim)
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name}(dim) takes one dim, got {dim!r}; use a{name} for several")
    return dim


class Tensor(PyTorchMethods):
    """An n-dimensional array that can record the operations applied to it for backprop.

    `_version` counts in-place writes (see `tinytorch.core.assignment`); the methods PyTorch
    code needs beyond these are inherited from `PyTorchMethods`.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_version", "__weakref__")
    __array_priority__ = 1000  # make `ndarray + Tensor` defer to Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data: np.ndarray = _as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require grad, got dtype {self.data.dtype}"
            )
        self.grad: np.ndarray | None = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self._version = 0

    @classmethod
    def _wrap(cls, data: np.ndarray, requires_grad: bool = False) -> Tensor:
        """Fast constructor for op outputs: the array is already of the right dtype."""
        out = Tensor.__new__(Tensor)
        out.data = data
        out.grad = None
        out.requires_grad = requires_grad
        out._ctx = None
        out._version = 0
        return out

    # ----------------------------------------------------------------- array-like properties
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def T(self) -> Tensor:
        return self.transpose()

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self) -> Any:
        return self._ctx

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> Any:
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """Same data, cut from the graph."""
        return Tensor._wrap(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require grad, got dtype {self.data.dtype}"
            )
        self.requires_grad = requires_grad
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and dtype != self.data.dtype:
            if copy is False:
                raise ValueError(f"converting {self.data.dtype} to {dtype} needs a copy")
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __len__(self) -> int:
        return len(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = f", dtype={self.data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn=<{type(self._ctx).__name__}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    __hash__ = object.__hash__  # identity hashing, although == is elementwise

    def backward(self, grad: Any = None, retain_graph: bool = False) -> None:
        """Accumulate gradients of this tensor into every leaf that requires grad."""
        autograd.backward(self, grad, retain_graph)

    # ----------------------------------------------------------------------- dtype casting
    def astype(self, dtype: Any) -> Tensor:
        """Differentiable cast (the gradient is cast back to this tensor's dtype); see also `to`."""
        return F.cast(self, dtype)

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    def long(self) -> Tensor:
        return self.to(np.int64)

    # -------------------------------------------------------------------------- arithmetic
    def __add__(self, other: Any) -> Tensor:
        return F.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return F.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return F.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return F.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return F.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return F.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return F.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return F.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return F.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return F.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return F.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return F.matmul(other, self)

    def __neg__(self) -> Tensor:
        return F.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return F.abs(self)

    def __getitem__(self, index: Any) -> Tensor:
        return F.getitem(self, index)

    # ------------------------------------------------------- comparisons (no gradient, bool)
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(np.asarray(self.data == np.asarray(other)))

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(np.asarray(self.data != np.asarray(other)))

    def __lt__(self, other: Any) -> Tensor:
        return Tensor._wrap(np.asarray(self.data < np.asarray(other)))

    def __le__(self, other: Any) -> Tensor:
        return Tensor._wrap(np.asarray(self.data <= np.asarray(other)))

    def __gt__(self, other: Any) -> Tensor:
        return Tensor._wrap(np.asarray(self.data > np.asarray(other)))

    def __ge__(self, other: Any) -> Tensor:
        return Tensor._wrap(np.asarray(self.data >= np.asarray(other)))

    # ---------------------------------------------------------------------- elementwise math
    def exp(self) -> Tensor:
        return F.exp(self)

    def log(self) -> Tensor:
        return F.log(self)

    def sqrt(self) -> Tensor:
        return F.sqrt(self)

    def tanh(self) -> Tensor:
        return F.tanh(self)

    def sigmoid(self) -> Tensor:
        return F.sigmoid(self)

    def relu(self) -> Tensor:
        return F.relu(self)

    def gelu(self, approximate: str = "none") -> Tensor:
        return F.gelu(self, approximate)

    def abs(self) -> Tensor:
        return F.abs(self)

    def clip(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        return F.clip(self, min, max)

    clamp = clip

    # -------------------------------------------------------------------------- reductions
    def sum(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
            keepdim: bool | None = None) -> Tensor:
        return F.sum(self, _pick_axis(axis, dim), keepdims if keepdim is None else keepdim)

    def mean(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None,
             keepdim: bool | None = None) -> Tensor:
        return F.mean(self, _pick_axis(axis, dim), keepdims if keepdim is None else keepdim)

    def amax(self, dim: Axis = (), keepdim: bool = False) -> Tensor:
        """Maximum over `dim` (all axes for `()`), the gradient shared among ties."""
        return F.max(self, None if dim == () else dim, keepdim)

    def amin(self, dim: Axis = (), keepdim: bool = False) -> Tensor:
        """Minimum over `dim` (all axes for `()`), the gradient shared among ties."""
        return -((-self).amax(dim, keepdim))

    def max(self, dim: int | None = None, keepdim: bool = False, *, axis: int | None = None,
            keepdims: bool | None = None) -> Any:
        """PyTorch's max: the largest element (0-d), or with `dim` the pair (values, indices)."""
        dim = _one_dim("max", axis, dim)
        keepdim = keepdim if keepdims is None else keepdims
        return F.max(self) if dim is None else F.max_with_indices(self, dim, keepdim)

    def min(self, dim: int | None = None, keepdim: bool = False, *, axis: int | None = None,
            keepdims: bool | None = None) -> Any:
        """The smallest element; with `dim`, (values, indices) along it (see `max`)."""
        dim = _one_dim("min", axis, dim)
        keepdim = keepdim if keepdims is None else keepdims
        return self.amin() if dim is None else F.min_with_indices(self, dim, keepdim)

    def var(self, axis: Axis = None, keepdims: bool = False, *, correction: int = 1,
            dim: Axis = None, keepdim: bool | None = None) -> Tensor:
        """Variance with PyTorch's default Bessel correction (`correction=1`); 0 gives NumPy's."""
        return F.var(self, _pick_axis(axis, dim), keepdims if keepdim is None else keepdim,
                     correction)

    def softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
        return F.softmax(self, _pick_axis(axis if dim is None else None, dim))

    def log_softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
        return F.log_softmax(self, _pick_axis(axis if dim is None else None, dim))

    def argmax(self, dim: int | None = None, keepdim: bool = False, *, axis: int | None = None
               ) -> Tensor:
        return F.argmax(self, _pick_axis(axis, dim), keepdim)

    # ------------------------------------------------------------------------------- shape
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return F.reshape(self, shape)

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        shape = self.shape
        if not shape:
            return self.reshape(1)
        start, end = normalize_axis(start_dim, len(shape)), normalize_axis(end_dim, len(shape))
        return self.reshape(*shape[:start], -1, *shape[end + 1:])

    def transpose(self, *axes: int) -> Tensor:
        """No axes: reverse them (`.T`); two axes: swap them (PyTorch); all axes: permute."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if len(axes) == 2:
            perm = list(range(self.ndim))
            a, b = normalize_axis(axes[0], self.ndim), normalize_axis(axes[1], self.ndim)
            perm[a], perm[b] = perm[b], perm[a]
            axes = tuple(perm)
        return F.transpose(self, axes or None)

    def permute(self, *axes: int) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return F.transpose(self, tuple(axes))

    def unsqueeze(self, axis: int) -> Tensor:
        axis = normalize_axis(axis, self.ndim + 1)
        return self.reshape(*self.shape[:axis], 1, *self.shape[axis:])

    def squeeze(self, axis: int | None = None) -> Tensor:
        if axis is None:
            return self.reshape(*(s for s in self.shape if s != 1))
        axis = normalize_axis(axis, self.ndim)
        if self.shape[axis] != 1:
            return self
        return self.reshape(*self.shape[:axis], *self.shape[axis + 1:])

    def split(self, split_size_or_sections: int | Sequence[int], axis: int = 0, *,
              dim: int | None = None) -> list[Tensor]:
        """PyTorch semantics: an int is the size of each chunk, a list gives every size."""
        return F.split(self, split_size_or_sections, axis if dim is None else dim)

    def masked_fill(self, mask: Any, value: float) -> Tensor:
        return F.masked_fill(self, mask, value)


# Imported last: both modules import `Tensor` from this (by then fully defined) module.
from tinytorch.core import autograd  # noqa: E402
from tinytorch.core import functional as F  # noqa: E402
