"""The backward engine: ordering, visiting each node once, accumulation, errors, graph lifetime."""

import gc
import sys
import weakref

import numpy as np
import pytest

from tinytorch.core.arithmetic import Add, Mul
from tinytorch.core.autograd import Function, is_grad_enabled, no_grad
from tinytorch.core.elementwise import ReLUFunction
from tinytorch.core.layers import Linear, LinearFunction
from tinytorch.core.random import manual_seed
from tinytorch.core.reductions import Sum
from tinytorch.core.tensor import Tensor


class CountingScale(Function):
    """y = 3x, counting how often its backward runs (on the class, across instances)."""

    calls = 0

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * 3.0

    def backward(self, grad: np.ndarray) -> np.ndarray:
        type(self).calls += 1
        return grad * 3.0


@pytest.fixture
def counting_scale():
    CountingScale.calls = 0
    return CountingScale


def leaf(*shape, seed=0, dtype=np.float32):
    data = np.random.default_rng(seed).standard_normal(shape)
    return Tensor(data, requires_grad=True, dtype=dtype)


# ------------------------------------------------------------------------- graph traversal
def test_a_10000_op_chain_backpropagates_without_recursion():
    assert sys.getrecursionlimit() < 10_000  # a recursive engine would overflow here
    x = leaf(3, dtype=np.float64)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.full(3, 1.0001**10_000), rtol=1e-9)


def test_diamond_visits_the_shared_node_once(counting_scale):
    x = leaf(2, 3)
    shared = counting_scale.apply(x)
    out = shared * 2.0 + shared.exp() + shared * shared
    out.sum().backward()
    assert counting_scale.calls == 1
    s = 3.0 * x.data
    np.testing.assert_allclose(x.grad, 3.0 * (2.0 + np.exp(s) + 2.0 * s), rtol=1e-5)


def test_each_node_of_a_nested_diamond_runs_backward_once(counting_scale):
    x = leaf(4)
    a = counting_scale.apply(x)
    b = counting_scale.apply(a + a)
    c = counting_scale.apply(b * a)
    (c + b + a).sum().backward()
    assert counting_scale.calls == 3
    # c = 3 * (3 * 2a) * a = 18 a^2, b = 6a, a = 3x: d/dx = 3 * (36a + 6 + 1)
    np.testing.assert_allclose(x.grad, 3.0 * (36.0 * 3.0 * x.data + 7.0), rtol=1e-5)


def count_backward_calls(monkeypatch, classes):
    """Wrap `backward` of the given Function classes; returns the live call counter."""
    counter = {"calls": 0}
    for cls in classes:
        original = cls.backward

        def counted(self, grad, original=original):
            counter["calls"] += 1
            return original(self, grad)

        monkeypatch.setattr(cls, "backward", counted)
    return counter


def residual_network(depth, width=8):
    """x -> x + relu(Linear(x)), `depth` times: every block uses x twice (skip + branch)."""
    manual_seed(depth)
    blocks = [Linear(width, width) for _ in range(depth)]
    x = leaf(4, width, seed=depth)
    h = x
    for block in blocks:
        h = h + block(h).relu() * 0.5
    return x, blocks, h.sum()


@pytest.mark.parametrize("depth", [10, 20, 40, 80])
def test_residual_network_backward_calls_grow_linearly_with_depth(monkeypatch, depth):
    counter = count_backward_calls(monkeypatch, [Add, Mul, ReLUFunction, Sum, LinearFunction])
    x, blocks, loss = residual_network(depth)
    loss.backward()
    # Per block: linear, relu, mul, add; plus the final sum. A revisiting engine would need
    # ~2**depth calls here because every block's input feeds two paths.
    assert counter["calls"] == 4 * depth + 1
    assert x.grad.shape == x.shape and np.all(np.isfinite(x.grad))
    assert all(b.weight.grad is not None and b.bias.grad is not None for b in blocks)


def test_residual_network_gradient_matches_manual_chain_rule():
    x, blocks, loss = residual_network(3, width=4)
    loss.backward()
    activations, grads = [x.data], []
    for block in blocks:
        pre = activations[-1] @ block.weight.data.T + block.bias.data
        activations.append(activations[-1] + 0.5 * np.maximum(pre, 0.0))
        grads.append(pre > 0)
    g = np.ones_like(activations[-1])
    for block, active in zip(reversed(blocks), reversed(grads), strict=True):
        g = g + (0.5 * g * active) @ block.weight.data
    np.testing.assert_allclose(x.grad, g, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------ accumulation
def test_gradients_accumulate_across_backward_calls_until_zeroed():
    x = leaf(3)
    (x * 2.0).sum().backward()
    (x * 5.0).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full(3, 7.0, np.float32))
    x.zero_grad()
    assert x.grad is None


def test_retain_graph_allows_a_second_backward_that_accumulates():
    x = leaf(3)
    loss = (x.exp() * x).sum()
    loss.backward(retain_graph=True)
    first = x.grad.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2.0 * first, rtol=1e-6)


def test_second_backward_through_a_freed_graph_raises_clearly():
    x = leaf(3)
    loss = (x.exp() * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        loss.backward()


def test_intermediate_reused_after_backward_raises_clearly():
    x = leaf(3)
    hidden = x.tanh()
    hidden.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (hidden * 2.0).sum().backward()


# ------------------------------------------------------------------------ root gradient rules
def test_backward_without_gradient_needs_a_scalar():
    x = leaf(2, 3)
    with pytest.raises(RuntimeError, match=r"scalar output, got shape \(2, 3\)"):
        (x * 2.0).backward()


def test_backward_with_explicit_gradient_on_a_non_scalar():
    x = leaf(2, 3)
    upstream = np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], np.float32)  # owns its data
    (x * 2.0).backward(upstream)
    np.testing.assert_array_equal(x.grad, 2.0 * upstream)
    y = leaf(2, 3)
    (y + 1.0).backward(upstream)  # Add passes the caller's array straight through
    y.grad[...] = 0.0  # the leaf's gradient is its own, not the caller's array
    assert upstream[1, 2] == 5.0


def test_backward_gradient_of_the_wrong_shape_is_rejected():
    x = leaf(2, 3)
    with pytest.raises(ValueError, match=r"\(3, 2\) does not match output \(2, 3\)"):
        (x * 2.0).backward(np.ones((3, 2), np.float32))


def test_backward_on_a_tensor_without_grad_raises():
    x = Tensor(np.ones(3, np.float32))
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2.0).sum().backward()


def test_backward_on_a_scalar_leaf_sets_its_gradient_to_one():
    x = Tensor(3.0, requires_grad=True)
    x.backward()
    assert isinstance(x.grad, np.ndarray) and x.grad.dtype == np.float32 and x.grad == 1.0


def test_only_inputs_that_require_grad_receive_gradients():
    x, frozen = leaf(3), Tensor(np.ones(3, np.float32))
    (x * frozen + frozen).sum().backward()
    assert frozen.grad is None
    np.testing.assert_array_equal(x.grad, np.ones(3, np.float32))


# ------------------------------------------------------------------------------------ no_grad
def test_no_grad_context_records_nothing():
    x = leaf(3)
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2.0).exp().sum()
    assert is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf


def test_no_grad_decorator_records_nothing_and_restores_state():
    x = leaf(3)

    @no_grad()
    def infer(t):
        assert not is_grad_enabled()
        return t @ t

    y = infer(x)
    assert not y.requires_grad and y.grad_fn is None
    assert infer.__name__ == "infer"
    assert is_grad_enabled() and (x @ x).requires_grad


def test_no_grad_restores_state_after_an_exception_and_when_nested():
    with pytest.raises(ValueError, match="boom"):
        with no_grad():
            raise ValueError("boom")
    assert is_grad_enabled()
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()
    assert is_grad_enabled()


# ------------------------------------------------------------------------------ graph lifetime
def test_graph_is_released_after_backward():
    x = leaf(4, 4)
    hidden = x * 3.0
    activated = hidden.exp()
    loss = (activated * hidden).sum()
    refs = {
        "hidden": weakref.ref(hidden),
        "activated": weakref.ref(activated),
        "exp-op": weakref.ref(activated.grad_fn),
        "saved-exp-output": weakref.ref(activated.grad_fn.out),
        "saved-mul-operand": weakref.ref(loss.grad_fn.inputs[0].grad_fn.a),
    }
    del hidden, activated
    gc.collect()
    assert all(ref() is not None for ref in refs.values())  # the graph holds them so far
    loss.backward()
    assert {name: ref() is None for name, ref in refs.items()} == dict.fromkeys(refs, True)
    assert x.grad is not None


def test_graph_is_kept_with_retain_graph():
    x = leaf(3)
    hidden = x * 3.0
    loss = hidden.exp().sum()
    ref = weakref.ref(hidden)
    del hidden
    loss.backward(retain_graph=True)
    assert ref() is not None


# ---------------------------------------------------------------------------- leaf gradients
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaf_gradient_has_the_leaf_shape_and_dtype_and_is_writeable(dtype):
    x = leaf(3, 1, dtype=dtype)
    y = leaf(1, 4, dtype=dtype)
    (x + y).sum().backward()  # Sum's gradient is a read-only broadcast view
    for t, expected in ((x, 4.0), (y, 3.0)):
        assert t.grad.shape == t.shape and t.grad.dtype == dtype
        assert t.grad.flags.writeable and t.grad.flags.owndata
        np.testing.assert_array_equal(t.grad, np.full(t.shape, expected, dtype))
    x.grad *= 2.0
    np.testing.assert_array_equal(x.grad, np.full((3, 1), 8.0, dtype))


def test_leaves_never_share_a_gradient_array():
    a, b, c = leaf(3), leaf(3), leaf(1, 3)
    out = a + b + c.reshape(3)
    out.backward(np.ones(3, np.float32))  # Add and Reshape pass the same array through
    a.grad *= 10.0
    np.testing.assert_array_equal(b.grad, np.ones(3, np.float32))
    np.testing.assert_array_equal(c.grad, np.ones((1, 3), np.float32))


def test_a_read_only_gradient_from_an_op_is_copied_for_the_leaf():
    class FrozenGradient(Function):
        def forward(self, a):
            return a.copy()

        def backward(self, grad):
            frozen = np.array(grad)
            frozen.flags.writeable = False
            return frozen

    x = leaf(3)
    FrozenGradient.apply(x).backward(np.ones(3, np.float32))
    assert x.grad.flags.writeable
    x.grad += 1.0
    np.testing.assert_array_equal(x.grad, np.full(3, 2.0, np.float32))


def test_zero_dim_tensors_hold_arrays_and_get_array_gradients():
    x = Tensor(2.0, requires_grad=True)
    y = x.exp() * x
    assert isinstance(y.data, np.ndarray) and y.data.dtype == np.float32
    y.backward()
    assert isinstance(x.grad, np.ndarray) and x.grad.shape == () and x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, 3.0 * np.exp(2.0), rtol=1e-6)


# ---------------------------------------------------------------------------- Function API
def test_custom_function_sees_which_inputs_need_grad_and_may_return_none():
    seen = []

    class Product(Function):
        def forward(self, a, b):
            self.a, self.b = a, b
            return a * b

        def backward(self, grad):
            seen.append(self.needs_input_grad)
            need_a, need_b = self.needs_input_grad
            return (grad * self.b if need_a else None), (grad * self.a if need_b else None)

    x, constant = leaf(3), Tensor(np.full(3, 4.0, np.float32))
    Product.apply(x, constant).sum().backward()
    assert seen == [(True, False)]
    np.testing.assert_array_equal(x.grad, np.full(3, 4.0, np.float32))


def test_function_outputs_link_to_their_op_only_when_recording():
    x = leaf(2)
    y = x * 2.0
    assert y.requires_grad and isinstance(y.grad_fn, Mul) and y.grad_fn.inputs[0] is x
    z = Tensor(np.ones(2, np.float32)) * 2.0
    assert not z.requires_grad and z.grad_fn is None
