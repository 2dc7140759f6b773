"""Reverse-mode automatic differentiation: the `Function` base class and the backward engine.

Every differentiable op is a `Function` subclass whose `forward` works on plain NumPy arrays and
whose `backward` maps the gradient of the output to one gradient per tensor input. `apply` runs
the op and, when some input requires grad, links the output to the op so the engine can walk the
graph back. The engine orders the graph once, iteratively (no recursion limit), and visits every
node exactly once, so a backward pass costs O(size of the graph) even when subgraphs are shared.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from tinytorch.core.tensor import Tensor

_state = threading.local()

F = TypeVar("F", bound=Callable[..., Any])


def is_grad_enabled() -> bool:
    """Whether ops currently record the graph (False inside `no_grad`)."""
    return getattr(_state, "grad_enabled", True)


class _GradMode:
    """Context manager and decorator that sets whether ops record a graph, then restores it."""

    mode: bool

    def __enter__(self) -> None:
        self._previous = is_grad_enabled()
        _state.grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = self._previous

    def __call__(self, func: F) -> F:
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradMode):
    """Context manager and decorator that stops ops from recording a graph (inference, updates)."""

    mode = False


class enable_grad(_GradMode):
    """Record the graph again inside a `no_grad()` block or function."""

    mode = True


class set_grad_enabled(_GradMode):
    """`set_grad_enabled(False)` is `no_grad()`, `(True)` is `enable_grad()`; called on its own
    it sets the mode until changed, as in PyTorch."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous = is_grad_enabled()
        _state.grad_enabled = self.mode

    def __enter__(self) -> None:
        pass  # the constructor set the mode already

    def __call__(self, func: F) -> F:
        _state.grad_enabled = self._previous  # as a decorator it applies inside func only
        return super().__call__(func)


class Function:
    """One differentiable op: subclasses implement `forward(*arrays, **params)`, `backward(grad)`.

    `backward` returns one gradient per tensor input (a single array when there is one input);
    `None` stands for "no gradient". It may consult `self.needs_input_grad` to skip work.
    """

    inputs: tuple[Tensor, ...] = ()
    needs_input_grad: tuple[bool, ...] = ()
    input_versions: tuple[int, ...] = ()  # each input's `_version` when the op ran

    def forward(self, *arrays: np.ndarray, **params: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Tensor, **params: Any) -> Tensor:
        """Run the op on tensors; record it in the graph when any input requires grad."""
        fn = cls()
        fn.needs_input_grad = tuple(t.requires_grad for t in inputs)
        # asarray: ufuncs on 0-d arrays return NumPy scalars, but `.data` is always an ndarray.
        out = np.asarray(fn.forward(*(t.data for t in inputs), **params))
        requires_grad = any(fn.needs_input_grad) and is_grad_enabled()
        result = Tensor._wrap(out, requires_grad)
        if requires_grad:
            fn.inputs = inputs
            fn.input_versions = tuple(t._version for t in inputs)
            result._ctx = fn
        return result


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` over the axes that broadcasting added or stretched to reach `shape`.

    The gradient of an operand that was broadcast in forward: every op that broadcasts needs it.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
    )
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


class _FreedGraph(Function):
    """Stands in for an op whose saved state was released by an earlier backward."""

    def backward(self, grad: np.ndarray) -> Any:
        raise RuntimeError(
            "Trying to backward through the graph a second time: its saved values were freed "
            "after the first backward. Call backward(retain_graph=True) the first time."
        )


_FREED = _FreedGraph()


def _check_inputs_unchanged(fn: Function) -> None:
    """Refuse to differentiate an op whose input was written in place after the op ran."""
    for t, version in zip(fn.inputs, fn.input_versions, strict=False):
        if t._version != version:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: an input of {type(fn).__name__} of shape {t.shape} is at "
                f"version {t._version}; expected version {version} instead. Write into a "
                "clone() or before the tensor is used."
            )


def _topological_order(root: Tensor) -> list[Tensor]:
    """Nodes that lead to `root` and require grad, inputs before the ops that consume them."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node._ctx is not None:
            for parent in node._ctx.inputs:
                if parent.requires_grad and id(parent) not in visited:
                    stack.append((parent, False))
    return order


def _as_leaf_grad(grad: Any, dtype: np.dtype, handed_out: set[int]) -> Any:
    """A leaf's `.grad`: a writeable array of the leaf's dtype that no other tensor shares.

    Ops pass gradients through without copying (`Add` hands the same array to both inputs,
    `Reshape` a view), so an array that is a view, read-only, or already some other leaf's
    gradient is copied: an in-place update of one `.grad` (clipping, weight decay) must not
    change another.
    """
    if not isinstance(grad, (np.ndarray, np.generic)):
        return grad  # e.g. a RowSparseGrad, built fresh by its op
    if (
        not isinstance(grad, np.ndarray)
        or grad.dtype != dtype
        or not grad.flags.writeable
        or not grad.flags.owndata
        or id(grad) in handed_out
    ):
        grad = np.array(grad, dtype=dtype)
    handed_out.add(id(grad))
    return grad


def _refcount_of_entry(mapping: dict[int, Any], key: int) -> int:
    return sys.getrefcount(mapping[key])


# What `_refcount_of_entry` reports for an object that only the mapping refers to (calibrated,
# not hard-coded: the count of temporaries differs between Python versions).
_ONLY_IN_MAPPING = _refcount_of_entry({0: np.empty(0)}, 0)


def _accumulate(pending: dict[int, Any], key: int, grad: Any) -> None:
    """`pending[key] += grad`, in place when no one else can observe the pending array.

    A gradient that several consumers send to one tensor is summed here. Adding in place saves
    an allocation per fan-in (the residual stream and the q/k/v inputs of every block), but
    arrays handed out by `backward` may alias each other, a saved tensor or the caller's data.
    So the sum is written in place only into an array that owns its memory and that nothing but
    `pending` refers to (any view, saved attribute or second consumer holds a reference);
    otherwise a new array is made, which then belongs to the engine alone.
    """
    total = pending.get(key)
    if total is None:
        pending[key] = grad
        return
    if (
        type(total) is np.ndarray
        and type(grad) is np.ndarray
        and total.shape == grad.shape
        and total.dtype == grad.dtype
        and total.flags.owndata
        and total.flags.writeable
    ):
        del total  # drop this function's own reference before counting
        if _refcount_of_entry(pending, key) == _ONLY_IN_MAPPING:
            np.add(pending[key], grad, out=pending[key])
            return
        total = pending[key]
    pending[key] = total + grad


def backward(root: Tensor, grad: Any = None, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf) into `.grad` of every leaf that requires grad."""
    if not root.requires_grad:
        raise RuntimeError(
            "backward() called on a tensor that does not require grad: no input of the "
            "computation had requires_grad=True (or it was computed under no_grad())."
        )
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() without a gradient needs a scalar output, got shape {root.shape}; "
                "pass backward(grad) with a gradient of that shape."
            )
        grad = np.ones_like(root.data)
    else:
        grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=root.dtype)
        if grad.shape != root.shape:
            raise ValueError(f"gradient shape {grad.shape} does not match output {root.shape}")

    pending: dict[int, Any] = {id(root): grad}
    handed_out = {id(grad)}  # the caller's gradient array must not become a leaf's `.grad`
    for node in reversed(_topological_order(root)):
        node_grad = pending.pop(id(node), None)
        fn = node._ctx
        if fn is None:
            if node_grad is not None:
                node_grad = _as_leaf_grad(node_grad, node.dtype, handed_out)
                node.grad = node_grad if node.grad is None else node.grad + node_grad
            continue
        if node_grad is not None:
            _check_inputs_unchanged(fn)
            input_grads = fn.backward(node_grad)
            if not isinstance(input_grads, Sequence):
                input_grads = (input_grads,)
            for parent, parent_grad in zip(fn.inputs, input_grads, strict=True):
                if parent_grad is None or not parent.requires_grad:
                    continue
                _accumulate(pending, id(parent), parent_grad)
        if not retain_graph:
            node._ctx = _FREED
