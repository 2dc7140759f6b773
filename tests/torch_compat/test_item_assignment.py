"""Item assignment and in-place setters follow PyTorch's autograd rules (values and gradients
compared with PyTorch; errors where PyTorch raises)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinytorch
from tests.torch_compat.parity import assert_same

W = np.arange(12, dtype=np.float32).reshape(3, 4) / 5 - 1
LEAF_ERROR = "a leaf Variable that requires grad is being used in an in-place operation"

WRITES = {
    "column": lambda L, y, v: y.__setitem__((slice(None), -1), 0),
    "mask-scalar": lambda L, y, v: y.__setitem__(y < 0, -float("inf")),
    "mask-top-k": lambda L, y, v: y.__setitem__(y < L.topk(y, 2)[0][:, [-1]], 0.0),
    "row-tensor": lambda L, y, v: y.__setitem__(1, v[0]),
    "broadcast-row": lambda L, y, v: y.__setitem__(slice(0, 2), v[:1]),
    "mask-tensor": lambda L, y, v: y.__setitem__(y > 0.5, v.flatten()[: int((y > 0.5).sum())]),
    "index-list": lambda L, y, v: y.__setitem__([0, 2], v[:2]),
    "fill_": lambda L, y, v: y[0].fill_(3.0),
    "zero_": lambda L, y, v: y[:, 1:3].zero_(),
    "copy_-broadcast": lambda L, y, v: y.copy_(v[1]),
    # writes into views of y reach y, as in PyTorch
    "row-of-row": lambda L, y, v: y[1][2:].fill_(5.0),
    "reshaped": lambda L, y, v: y.view(2, 6)[1, :3].copy_(v[0, :3]),
    "transposed": lambda L, y, v: y.t()[0].zero_(),
    "transposed-slice-assign": lambda L, y, v: y.transpose(0, 1)[1:3].__setitem__(0, v[1, :3]),
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_writes_into_a_computed_tensor_are_differentiable_like_pytorch(write):
    """y = w * 2 is not a leaf: the write is recorded and both w and v get PyTorch's gradients."""
    grads = []
    for L in (tinytorch, torch):
        w = L.tensor(W, requires_grad=True)
        v = L.tensor(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4), requires_grad=True)
        y = w * 2
        write(L, y, v)
        assert not y.is_leaf and y.requires_grad
        loss = (y.masked_fill(y == -float("inf"), 0) * L.tensor(W + 3)).sum()
        loss.backward()
        grads.append((y.detach(), w.grad, v.grad))
    (ours_y, ours_w, ours_v), (theirs_y, theirs_w, theirs_v) = grads
    assert_same(ours_y, theirs_y)
    np.testing.assert_allclose(ours_w, theirs_w.numpy(), rtol=1e-6)
    if theirs_v is None:
        assert ours_v is None
    else:
        np.testing.assert_allclose(ours_v, theirs_v.numpy(), rtol=1e-6)


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_plain_tensors_are_written_in_place_and_views_see_it(write):
    results = []
    for L in (tinytorch, torch):
        y = L.tensor(W)
        row = y[2]  # a view
        write(L, y, L.tensor(np.ones((2, 4), np.float32)))
        results.append((y, row))
    assert_same(results[0], results[1])


def test_a_leaf_that_requires_grad_is_written_only_under_no_grad():
    for L in (tinytorch, torch):
        w = L.tensor(W, requires_grad=True)
        with pytest.raises(RuntimeError, match=LEAF_ERROR):
            w[0] = 1.0
        with pytest.raises(RuntimeError, match=LEAF_ERROR):
            w.zero_()
        with L.no_grad():
            w[0] = 1.0
            w.normal_()
        assert w.is_leaf and w.requires_grad and w.grad_fn is None


def test_writing_a_value_that_requires_grad_into_a_plain_buffer():
    results = []
    for L in (tinytorch, torch):
        w = L.tensor(W, requires_grad=True)
        out = L.zeros(4, 4)
        out[1:] = w * w
        out[0, 0] = w[0, 0]
        assert out.requires_grad and not out.is_leaf
        out.sum().backward()
        results.append((out.detach(), w.grad))
    np.testing.assert_allclose(results[0][0].numpy(), results[1][0].numpy())
    np.testing.assert_allclose(results[0][1], results[1][1].numpy())


def test_backward_through_an_input_changed_in_place_afterwards_raises():
    for L in (tinytorch, torch):
        w = L.tensor(W, requires_grad=True)
        y = w * 2
        z = y * y  # saves y for its gradient
        y[0] = 0.0
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()


def test_integer_tensors_cast_the_value_like_pytorch():
    results = []
    for L in (tinytorch, torch):
        ids = L.zeros(2, 3, dtype=L.long)
        ids[:, 0] = 7
        ids[ids == 0] = L.tensor(2.9)
        results.append(ids)
    assert_same(*results)


def test_normal_and_uniform_fill_with_the_asked_distribution():
    generator = tinytorch.Generator().manual_seed(0)
    x = tinytorch.empty(200, 100)
    x.normal_(mean=2.0, std=0.5, generator=generator)
    assert abs(x.mean().item() - 2.0) < 0.01 and abs(x.numpy().std() - 0.5) < 0.01
    x.uniform_(-3.0, -1.0, generator=generator)
    assert -3.0 <= x.numpy().min() and x.numpy().max() < -1.0
    with pytest.raises(TypeError, match="floating-point"):
        tinytorch.zeros(3, dtype=tinytorch.long).normal_()


def test_every_write_raises_the_version():
    x = tinytorch.zeros(3)
    versions = [x._version]
    for write in (lambda: x.fill_(1), lambda: x.__setitem__(0, 2), lambda: x.copy_(x * 2)):
        write()
        versions.append(x._version)
    assert versions == [0, 1, 2, 3]


def test_inplace_activations_write_the_input():
    for L in (tinytorch, torch):
        x = L.tensor([-1.0, 2.0])
        out = L.nn.functional.relu(x, inplace=True)
        assert out is x and x.tolist() == [0.0, 2.0]



def test_a_view_of_a_parameter_is_written_only_under_no_grad():
    w = tinytorch.nn.Parameter(tinytorch.tensor(W))
    with pytest.raises(RuntimeError, match=LEAF_ERROR):
        w[0][1] = 5.0
    with tinytorch.no_grad():
        w[0][1] = 5.0
    assert w[0, 1].item() == 5.0


def test_a_graph_value_into_a_view_made_without_a_graph_is_refused():
    w = tinytorch.tensor(W, requires_grad=True)
    buffer = tinytorch.zeros(3, 4)
    row = buffer[0]
    with pytest.raises(RuntimeError, match="write through the base tensor instead"):
        row[:] = w[0]
    buffer[0] = w[0]  # through the base: recorded
    buffer.sum().backward()
    np.testing.assert_array_equal(w.grad, np.repeat([[1.0], [0.0], [0.0]], 4, axis=1))
