"""`nn` as PyTorch code uses it: ModuleDict, Module.apply/to/zero_grad, nn.init's formulas, and
optimizers that accept PyTorch's implementation switches."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch

import tinytorch
from tinytorch.core.grad_clipping import clip_grad_norm_
from tinytorch.core.sparse import RowSparseGrad


def model(L):
    """The same small structure in either library."""

    class Net(L.nn.Module):
        def __init__(self):
            super().__init__()
            self.parts = L.nn.ModuleDict({"embed": L.nn.Embedding(5, 4)})
            self.parts["blocks"] = L.nn.ModuleList([L.nn.Linear(4, 4), L.nn.LayerNorm(4)])
            self.parts.update([("head", L.nn.Linear(4, 3, bias=False))])

    return Net()


def test_module_dict_registers_like_pytorch():
    ours, theirs = model(tinytorch), model(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    parts = ours.parts
    assert list(parts) == list(parts.keys()) == ["embed", "blocks", "head"] and len(parts) == 3
    assert parts.embed is parts["embed"] and "head" in parts and "tail" not in parts
    assert [type(m).__name__ for m in parts.values()] == ["Embedding", "ModuleList", "Linear"]
    del parts["head"]
    assert "head" not in parts and not hasattr(parts, "head")
    assert [n for n, _ in ours.named_parameters()][-1] == "parts.blocks.1.bias"


def test_module_dict_refuses_what_would_break_it():
    parts = tinytorch.nn.ModuleDict()
    with pytest.raises(TypeError, match="ModuleDict values must be Modules"):
        parts["x"] = 3
    with pytest.raises(KeyError, match="would hide the ModuleDict attribute 'keys'"):
        parts["keys"] = tinytorch.nn.ReLU()
    with pytest.raises(KeyError, match="without '.'"):
        parts["a.b"] = tinytorch.nn.ReLU()


def test_apply_visits_children_before_parents_like_pytorch():
    orders = []
    for L in (tinytorch, torch):
        orders.append([])
        net = model(L)
        assert net.apply(lambda m: orders[-1].append(type(m).__name__)) is net
    assert orders[0] == orders[1]


def test_module_to_and_cpu():
    net = model(tinytorch)
    assert net.to("cpu") is net and net.cpu() is net and net.to(tinytorch.device("cpu")) is net
    net.to(tinytorch.float64)
    assert {p.dtype for p in net.parameters()} == {np.dtype(np.float64)}
    net.to("cpu", tinytorch.float32)
    assert {p.dtype for p in net.parameters()} == {np.dtype(np.float32)}
    with pytest.raises(ValueError, match="tinytorch runs on the CPU only, got device 'cuda:1'"):
        net.to("cuda:1")
    with pytest.raises(TypeError, match="Module.to only accepts floating-point dtypes"):
        net.to(tinytorch.long)


def test_zero_grad_sets_to_none_or_zeros():
    net = model(tinytorch)
    head = net.parts.head.weight
    for set_to_none, expected in ((False, np.zeros(head.shape)), (True, None)):
        head.grad = np.ones(head.shape, np.float32)
        net.zero_grad(set_to_none=set_to_none)
        if expected is None:
            assert head.grad is None
        else:
            np.testing.assert_array_equal(head.grad, expected)


def test_zero_grad_keeps_a_sparse_gradient_sparse():
    """A sparse embedding's zeroed gradient has no rows, as the optimizer's zero_grad (and
    PyTorch's sparse grad) keeps it, never a dense table of zeros."""
    table = tinytorch.nn.Embedding(1000, 4, sparse=True)
    table(tinytorch.tensor([1, 2])).sum().backward()
    table.zero_grad(set_to_none=False)
    assert isinstance(table.weight.grad, RowSparseGrad) and table.weight.grad.indices.size == 0


NONLINEARITIES = ["linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]


@pytest.mark.parametrize("name", NONLINEARITIES)
def test_calculate_gain_is_pytorchs(name):
    for param in (None, 0.2) if name == "leaky_relu" else (None,):
        ours = tinytorch.nn.init.calculate_gain(name, param)
        assert ours == pytest.approx(torch.nn.init.calculate_gain(name, param))


@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5, 5), (2, 6, 7)])
def test_fans_are_pytorchs(shape):
    ours = tinytorch.nn.init._calculate_fan_in_and_fan_out(tinytorch.empty(shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


INITS = {
    "uniform_": lambda L, t, g: L.nn.init.uniform_(t, -0.3, 0.7, generator=g),
    "normal_": lambda L, t, g: L.nn.init.normal_(t, 0.5, 0.1, generator=g),
    "xavier_uniform_": lambda L, t, g: L.nn.init.xavier_uniform_(t, gain=2.0, generator=g),
    "xavier_normal_": lambda L, t, g: L.nn.init.xavier_normal_(t, generator=g),
    "kaiming_uniform_": lambda L, t, g: L.nn.init.kaiming_uniform_(t, math.sqrt(5), generator=g),
    "kaiming_normal_": lambda L, t, g: L.nn.init.kaiming_normal_(
        t, mode="fan_out", nonlinearity="relu", generator=g
    ),
    "trunc_normal_": lambda L, t, g: L.nn.init.trunc_normal_(t, 0, 0.02, -0.03, 0.03, generator=g),
}
BOUNDED = ("uniform_", "xavier_uniform_", "kaiming_uniform_", "trunc_normal_")


@pytest.mark.parametrize("name", INITS)
def test_init_draws_pytorchs_distribution(name):
    """Same distribution as PyTorch's init (mean, spread, bounds); the numbers differ."""
    samples = []
    for L in (tinytorch, torch):
        weight = L.nn.Parameter(L.empty(300, 200))
        out = INITS[name](L, weight, L.Generator().manual_seed(0))
        assert out is weight and weight.is_leaf and weight.requires_grad
        samples.append(weight.detach().numpy())
    ours, theirs = samples
    assert ours.mean() == pytest.approx(theirs.mean(), abs=0.03 * float(theirs.std()))  # 5 sd
    assert ours.std() == pytest.approx(theirs.std(), rel=0.02)
    if name in BOUNDED:
        assert ours.min() == pytest.approx(theirs.min(), rel=0.01)
        assert ours.max() == pytest.approx(theirs.max(), rel=0.01)


def test_constant_inits():
    weight = tinytorch.nn.Parameter(tinytorch.empty(2, 3))
    for init, value in ((tinytorch.nn.init.zeros_, 0.0), (tinytorch.nn.init.ones_, 1.0)):
        init(weight)
        assert (weight.numpy() == value).all()
    tinytorch.nn.init.constant_(weight, 0.25)
    assert (weight.numpy() == 0.25).all()


@pytest.mark.parametrize("name", ["AdamW", "Adam", "SGD"])
def test_optimizer_signatures_have_pytorchs_parameters(name):
    ours = set(inspect.signature(getattr(tinytorch.optim, name)).parameters)
    assert set(inspect.signature(getattr(torch.optim, name)).parameters) <= ours


def test_implementation_switches_change_nothing():
    trajectories = []
    for switches in ({}, {"fused": True, "foreach": False, "capturable": False}):
        weight = tinytorch.nn.Parameter(tinytorch.ones(3))
        optimizer = tinytorch.optim.AdamW([weight], lr=0.1, **switches)
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            (weight * weight).sum().backward()
            optimizer.step()
        trajectories.append(weight.numpy().copy())
    np.testing.assert_array_equal(*trajectories)
    with pytest.raises(ValueError, match="differentiable=True is not supported"):
        tinytorch.optim.SGD([tinytorch.nn.Parameter(tinytorch.ones(1))], 0.1, differentiable=True)


def test_nn_utils_clip_grad_norm_is_the_core_function():
    assert tinytorch.nn.utils.clip_grad_norm_ is clip_grad_norm_
