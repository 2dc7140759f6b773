"""The engine sums fan-in gradients in place only into arrays nobody else can see.

Gradients arriving at a tensor from several consumers are added into the first one's array
when that array is the engine's alone. These tests build the cases where it is NOT: an array a
Function keeps (and hands out again on a second backward), the same array sent to two inputs,
the caller's own gradient, views; each must come out unchanged and the sums must be exact.
"""

import numpy as np
import pytest

from tinytorch.core import autograd
from tinytorch.core.autograd import Function
from tinytorch.core.tensor import Tensor


class ConstantGradient(Function):
    """y = 2x whose backward returns the SAME saved array every time (ignoring grad's values)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.saved = np.full(x.shape, 2.0, dtype=x.dtype)
        return x * 2.0

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return self.saved


def leaf(seed=0):
    data = np.random.default_rng(seed).standard_normal((3, 4))
    return Tensor(data, requires_grad=True)


@pytest.mark.parametrize("saved_first", [True, False])
def test_an_array_a_function_keeps_is_never_written_by_accumulation(saved_first):
    x = leaf()
    y = ConstantGradient.apply(x)
    fn = y._ctx
    other = x * 3.0
    out = (y + other) if saved_first else (other + y)
    out.sum().backward(retain_graph=True)
    out.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(fn.saved, np.full((3, 4), 2.0, np.float32))
    np.testing.assert_allclose(x.grad, np.full((3, 4), 2 * (2.0 + 3.0)), rtol=1e-6)


def test_one_array_sent_to_both_inputs_of_an_add_is_summed_without_aliasing():
    x = leaf()
    (x + x).sum().backward()  # Add hands the same gradient array to both operands
    np.testing.assert_array_equal(x.grad, np.full((3, 4), 2.0, np.float32))
    w = leaf(1)
    h = w * 1.0
    out = (h + h) + h  # h receives one array twice, then a third gradient
    out.sum().backward()
    np.testing.assert_allclose(w.grad, np.full((3, 4), 3.0), rtol=1e-6)


def test_the_callers_gradient_array_is_left_untouched():
    x = leaf()
    upstream = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    kept = upstream.copy()
    y = x * 1.0
    (y + y + y).backward(upstream)
    np.testing.assert_array_equal(upstream, kept)
    np.testing.assert_allclose(x.grad, 3.0 * kept, rtol=1e-6)


def test_views_handed_out_by_backward_are_not_written_through():
    x = leaf()
    flat = x.reshape(12)  # Reshape's backward returns a view of its incoming gradient
    scaled = flat * 2.0
    out = (scaled.reshape(3, 4) + x * 5.0).sum() + flat.sum()
    out.backward()
    np.testing.assert_allclose(x.grad, np.full((3, 4), 2.0 + 5.0 + 1.0), rtol=1e-6)


def test_fan_in_accumulates_in_place_when_the_engine_owns_the_array(monkeypatch):
    """The optimisation itself: the second gradient is added into the first one's array."""
    x = leaf()
    a, b, c = x * 2.0, x * 3.0, x * 4.0  # Mul's backward makes a fresh array for x each time
    calls = {"in_place": 0, "new": 0}
    original_add = np.add

    def counting_add(first, second, *args, **kwargs):
        if "out" in kwargs:
            calls["in_place"] += 1
        return original_add(first, second, *args, **kwargs)

    monkeypatch.setattr(autograd.np, "add", counting_add)
    (a + b + c).sum().backward()
    np.testing.assert_allclose(x.grad, np.full((3, 4), 9.0), rtol=1e-6)
    assert calls["in_place"] == 2  # three gradients for x: two in-place additions
