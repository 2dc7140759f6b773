"""In-place writes with PyTorch's autograd rules: `x[index] = value`, `fill_`, `zero_`, `copy_`,
`normal_`, `uniform_`, and `clone` (the copy to write into instead).

Every write goes through `setitem_`, which decides like PyTorch:
- a leaf that requires grad (a parameter) may only be written under `no_grad()` (that is how
  `nn.init` and optimizers change weights); otherwise RuntimeError;
- when nothing needs a gradient (under `no_grad()`, or neither the tensor nor the value requires
  grad), the tensor's array is written in place, so views of it see the change as in PyTorch;
- otherwise the write is recorded: `SetItem` computes a new array with the value put in, and the
  tensor takes that array and becomes the op's output (it is no longer a leaf). Gradients reach
  the old value everywhere except at `index`, and the assigned value at `index`. A tensor that
  is a view of another (made by basic indexing, reshape or transpose of it) passes the write on
  to that base, as PyTorch does, and becomes the same view of the updated base. Unlike PyTorch,
  a recorded write gives the tensor a new array (the old one may be saved for a gradient), so
  OTHER views taken before the write keep the old values: take views after writing.
Each write raises the tensor's version. An op recorded before the write checks the version of
its inputs in backward and raises instead of using a changed input (PyTorch's version counter;
unlike PyTorch, this also covers ops that did not save the input).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.autograd import Function, is_grad_enabled, unbroadcast
from tinytorch.core.casting import cast
from tinytorch.core.random import Generator, numpy_generator
from tinytorch.core.shape_ops import GetItem, Reshape, Transpose, is_basic_index, plain_index
from tinytorch.core.tensor import Tensor


class SetItem(Function):
    """`out = a.copy(); out[index] = value`: the recorded form of `a[index] = value`."""

    def forward(self, a: np.ndarray, value: np.ndarray, index: Any) -> np.ndarray:
        self.index, self.value_shape = index, value.shape
        out = a.copy()
        out[index] = value
        return out

    def backward(self, grad: np.ndarray) -> tuple:
        need_a, need_value = self.needs_input_grad
        grad_a = grad_value = None
        if need_a:
            grad_a = grad.copy()
            grad_a[self.index] = 0
        if need_value:
            picked = np.asarray(grad[self.index])
            missing = len(self.value_shape) - picked.ndim  # NumPy drops leading 1s of a value
            if missing > 0:
                picked = picked.reshape((1,) * missing + picked.shape)
            grad_value = unbroadcast(picked, self.value_shape)
        return grad_a, grad_value


def check_inplace(x: Tensor) -> None:
    """PyTorch's rule: a leaf that requires grad may be written only under no_grad()."""
    if x.requires_grad and x.is_leaf and is_grad_enabled():
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation "
            "(change weights inside no_grad(), as nn.init does, or write into a clone())"
        )


def setitem_(x: Tensor, index: Any, value: Any) -> Tensor:
    """`x[index] = value` in place, with the autograd rules of the module docstring."""
    check_inplace(x)
    index = plain_index(index)
    value_requires_grad = isinstance(value, Tensor) and value.requires_grad
    records = (
        is_grad_enabled() and x.dtype.kind == "f" and (x.requires_grad or value_requires_grad)
    )
    if not records:
        x.data[index] = value.data if isinstance(value, Tensor) else value
        x._version += 1
        return x
    if isinstance(value, Tensor):
        value = cast(value, x.dtype)
    else:
        value = Tensor._wrap(np.asarray(value, dtype=x.dtype))
    _recorded_write(x, index, value)
    return x


def _recorded_write(x: Tensor, index: Any, value: Tensor) -> None:
    """Record `x[index] = value`; through every base when x is a view (see module docstring).

    `chain` is x, the tensor it views, the tensor that one views, ..., up to a tensor that is no
    view (the root). The old values are taken from a stand-in of the root, so that no recorded
    op goes through a tensor object whose node is about to change; the new value then travels
    up the chain, and every tensor in it takes its new value.
    """
    chain = [x]
    while (base := _viewed_base(chain[-1])) is not None:
        chain.append(base)
    root = chain[-1]
    check_inplace(root)  # a view of a parameter may not be written outside no_grad either
    if len(chain) == 1 and x._ctx is None and x.data.base is not None:
        raise RuntimeError(
            "cannot write a value that requires grad into a view of another tensor made without "
            "a graph: write through the base tensor instead (buf[0] = value, not row = buf[0]; "
            "row[:] = value)"
        )
    view_ops = [t._ctx for t in chain[:-1]]  # view_ops[i] made chain[i] from chain[i + 1]
    stand_in = Tensor._wrap(root.data, root.requires_grad)
    stand_in._ctx, stand_in._version = root._ctx, root._version
    old = [stand_in]
    for view_op, view in zip(reversed(view_ops), reversed(chain[:-1]), strict=True):
        old.append(_view(view_op, old[-1], view.shape))
    old.reverse()  # old[i] is the value chain[i] had
    new = SetItem.apply(old[0], value, index=index)
    for i, view_op in enumerate(view_ops):
        new = _put_back(view_op, old[i + 1], new)
    _take(root, new)
    for i in reversed(range(len(view_ops))):
        _take(chain[i], _view(view_ops[i], chain[i + 1], chain[i].shape))


def _take(x: Tensor, new: Tensor) -> None:
    x.data, x._ctx, x.requires_grad = new.data, new._ctx, True
    x._version += 1


def _viewed_base(x: Tensor) -> Tensor | None:
    """The tensor whose memory `x` views, when a recorded view op made `x` from it."""
    fn = x._ctx
    if isinstance(fn, GetItem) and not is_basic_index(fn.index):
        return None
    if not isinstance(fn, (GetItem, Reshape, Transpose)):
        return None
    base = fn.inputs[0]
    return base if np.may_share_memory(x.data, base.data) else None


def _view(view_op: Function, base: Tensor, shape: tuple[int, ...]) -> Tensor:
    """The view `view_op` made (of shape `shape`), taken again of `base`."""
    if isinstance(view_op, GetItem):
        return GetItem.apply(base, index=view_op.index)
    if isinstance(view_op, Reshape):
        return Reshape.apply(base, shape=shape)
    inverse = view_op.inverse
    axes = None if inverse is None else tuple(int(a) for a in np.argsort(inverse))
    return Transpose.apply(base, axes=axes)


def _put_back(view_op: Function, base: Tensor, view: Tensor) -> Tensor:
    """`base` with the region `view_op` views replaced by `view`'s values."""
    if isinstance(view_op, GetItem):
        return SetItem.apply(base, view, index=view_op.index)
    if isinstance(view_op, Reshape):
        return Reshape.apply(view, shape=base.shape)
    return Transpose.apply(view, axes=view_op.inverse)


def fill_(x: Tensor, value: Any) -> Tensor:
    """Every element set to `value` (a number or a one-element tensor)."""
    return setitem_(x, Ellipsis, value)


def zero_(x: Tensor) -> Tensor:
    return setitem_(x, Ellipsis, 0)


def copy_(x: Tensor, source: Any) -> Tensor:
    """x's elements replaced by `source`'s, broadcast to x's shape and cast to x's dtype."""
    source_shape = np.shape(source.data if isinstance(source, Tensor) else source)
    try:
        np.broadcast_shapes(source_shape, x.shape)
    except ValueError:
        raise ValueError(
            f"copy_: source of shape {source_shape} does not broadcast to {x.shape}"
        ) from None
    return setitem_(x, Ellipsis, source)


def _float_target(x: Tensor, op: str) -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{op} needs a floating-point tensor, got dtype {x.dtype}")


def normal_(
    x: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Generator | None = None
) -> Tensor:
    """Fill with samples of N(mean, std^2), drawn in x's dtype from `generator` or the library's."""
    _float_target(x, "normal_")
    if not std >= 0:
        raise ValueError(f"normal_ expects std >= 0, got {std!r}")
    sample = numpy_generator(generator).standard_normal(x.shape, dtype=x.dtype)
    sample *= float(std)
    sample += float(mean)
    return setitem_(x, Ellipsis, sample)


def uniform_(
    x: Tensor, a: float = 0.0, b: float = 1.0, *, generator: Generator | None = None
) -> Tensor:
    """Fill with samples of U[a, b), drawn in x's dtype."""
    _float_target(x, "uniform_")
    if not a <= b:
        raise ValueError(f"uniform_ expects a <= b, got a={a!r}, b={b!r}")
    sample = numpy_generator(generator).random(x.shape, dtype=x.dtype)
    sample *= float(b) - float(a)
    sample += float(a)
    return setitem_(x, Ellipsis, sample)


class Clone(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        return a.copy()

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad


def clone(x: Tensor) -> Tensor:
    """A copy with its own memory that stays in the graph (gradients pass straight through)."""
    return Clone.apply(x)
