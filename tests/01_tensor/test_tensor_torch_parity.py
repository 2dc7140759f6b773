"""Forward values and gradients of every Tensor op against PyTorch on random float32 inputs.

Each case is written once as `fn(L, *tensors)`, where `L` supplies the few functions whose names
differ between the two libraries, and is run on tinytorch and on torch tensors built from the
same arrays. Backward uses a random upstream gradient, so every output position is weighted.
"""

import numpy as np
import pytest
import torch

from tinytorch.core import functional as F
from tinytorch.core.tensor import Tensor

RTOL, ATOL = 1e-4, 1e-5


class TinyOps:
    tensor = staticmethod(Tensor)
    cat = staticmethod(F.concatenate)
    stack = staticmethod(F.stack)
    where = staticmethod(F.where)

    @staticmethod
    def gelu(x, approximate="none"):
        return x.gelu(approximate)

    @staticmethod
    def amax(x, dim=None, keepdim=False):
        return x.amax(() if dim is None else dim, keepdim)


class TorchOps:
    tensor = staticmethod(torch.as_tensor)
    cat = staticmethod(torch.cat)
    stack = staticmethod(torch.stack)
    where = staticmethod(torch.where)
    gelu = staticmethod(torch.nn.functional.gelu)

    @staticmethod
    def amax(x, dim=None, keepdim=False):
        return torch.amax(x, dim=() if dim is None else dim, keepdim=keepdim)


def normal(rng, shape):
    return rng.standard_normal(shape).astype(np.float32)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape).astype(np.float32)


def case(name, fn, *inputs):
    """`inputs` are (shape, sampler) pairs, or bare shapes sampled from a normal."""
    specs = [spec if len(spec) == 2 and callable(spec[1]) else (spec, normal) for spec in inputs]
    return pytest.param(fn, specs, id=name)


BROADCAST_PAIRS = [
    ((2, 3, 4), (2, 3, 4)),
    ((3, 4), (4,)),
    ((2, 1, 4), (3, 1)),
    ((), (2, 3)),
    ((4, 1), (1, 5)),
]
BINARY = [
    case(f"{name}-{a}-{b}", fn, (a, first), (b, second))
    for a, b in BROADCAST_PAIRS
    for name, fn, first, second in [
        ("add", lambda L, x, y: x + y, normal, normal),
        ("sub", lambda L, x, y: x - y, normal, normal),
        ("mul", lambda L, x, y: x * y, normal, normal),
        ("div", lambda L, x, y: x / y, normal, positive),
        ("pow", lambda L, x, y: x**y, positive, normal),
    ]
]

SCALAR_FORMS = [
    case(name, fn, (shape, sampler))
    for shape in [(5,), (2, 3, 4)]
    for name, fn, sampler in [
        ("radd", lambda L, x: 2.5 + x, normal),
        ("rsub", lambda L, x: 2.5 - x, normal),
        ("rmul", lambda L, x: 2.5 * x, normal),
        ("rdiv", lambda L, x: 2.5 / x, positive),
        ("rpow", lambda L, x: 2.5**x, normal),
        ("pow-int", lambda L, x: x**3, normal),
        ("pow-half", lambda L, x: x**0.5, positive),
        ("pow-zero", lambda L, x: x**0, normal),
        ("add-int", lambda L, x: x + 2, normal),
        ("sub-int", lambda L, x: x - 2, normal),
        ("div-int", lambda L, x: x / 2, normal),
        ("neg", lambda L, x: -x, normal),
    ]
]

MATMUL = [
    case(f"matmul-{a}-{b}", lambda L, x, y: x @ y, a, b)
    for a, b in [
        ((4,), (4,)),
        ((4,), (4, 3)),
        ((3, 4), (4,)),
        ((3, 4), (4, 2)),
        ((2, 5, 8), (8, 3)),
        ((2, 1, 3, 4), (5, 4, 2)),
        ((3, 4), (2, 4, 5)),
        ((4,), (2, 4, 3)),
        ((2, 3, 4), (4,)),
        ((2, 2, 3, 4), (2, 2, 4, 3)),
    ]
]

UNARY = [
    case(f"{name}-{shape}", fn, (shape, sampler))
    for shape in [(7,), (3, 4), (2, 3, 4)]
    for name, fn, sampler in [
        ("exp", lambda L, x: x.exp(), normal),
        ("log", lambda L, x: x.log(), positive),
        ("sqrt", lambda L, x: x.sqrt(), positive),
        ("tanh", lambda L, x: x.tanh(), normal),
        ("sigmoid", lambda L, x: x.sigmoid(), normal),
        ("relu", lambda L, x: x.relu(), normal),
        ("gelu", lambda L, x: L.gelu(x), normal),
        ("gelu-tanh", lambda L, x: L.gelu(x, approximate="tanh"), normal),
        ("abs", lambda L, x: x.abs(), normal),
        ("clip", lambda L, x: x.clip(-0.5, 0.5), normal),
        ("clip-min", lambda L, x: x.clip(min=-0.5), normal),
        ("clip-max", lambda L, x: x.clip(max=0.5), normal),
    ]
]

AXES = [None, 1, -1, (0, 2), (-1, -3)]
REDUCTIONS = [
    case(f"{name}-dim{dim}-keep{keep}", fn(dim, keep), (2, 3, 4))
    for dim in AXES
    for keep in (False, True)
    for name, fn in [
        ("sum", lambda dim, keep: lambda L, x: x.sum(dim=dim, keepdim=keep)),
        ("mean", lambda dim, keep: lambda L, x: x.mean(dim=dim, keepdim=keep)),
        ("max", lambda dim, keep: lambda L, x: L.amax(x, dim=dim, keepdim=keep)),
        ("var", lambda dim, keep: lambda L, x: x.var(dim=dim, keepdim=keep)),
        ("var-c0", lambda dim, keep: lambda L, x: x.var(dim=dim, keepdim=keep, correction=0)),
    ]
]

SOFTMAXES = [
    case(f"{name}-dim{dim}", fn(dim), (2, 3, 4))
    for dim in (-1, 0, 1)
    for name, fn in [
        ("softmax", lambda dim: lambda L, x: x.softmax(dim)),
        ("log_softmax", lambda dim: lambda L, x: x.log_softmax(dim)),
    ]
]

SHAPE_OPS = [
    case("reshape", lambda L, x: x.reshape(-1, 4), (2, 3, 4)),
    case("reshape-tuple", lambda L, x: x.reshape((4, 6)), (2, 3, 4)),
    case("view", lambda L, x: x.view(6, -1), (2, 3, 4)),
    case("transpose-3d", lambda L, x: x.transpose(0, 2), (2, 3, 4)),
    case("transpose-negative", lambda L, x: x.transpose(-1, -2), (2, 3, 4)),
    case("transpose-2d", lambda L, x: x.transpose(0, 1), (3, 4)),
    case("transpose-2d-reversed", lambda L, x: x.transpose(1, 0), (3, 4)),
    case("transpose-4d", lambda L, x: x.transpose(1, 2), (2, 3, 4, 5)),
    case("T", lambda L, x: x.T, (3, 4)),
    case("permute", lambda L, x: x.permute(2, 0, 1), (2, 3, 4)),
    case("permute-negative", lambda L, x: x.permute(-1, 0, -2), (2, 3, 4)),
    case("unsqueeze", lambda L, x: x.unsqueeze(1), (3, 4)),
    case("unsqueeze-negative", lambda L, x: x.unsqueeze(-1), (3, 4)),
    case("squeeze-dim", lambda L, x: x.squeeze(1), (2, 1, 3)),
    case("squeeze-all", lambda L, x: x.squeeze(), (1, 3, 1)),
]

MASK = np.array([True, False, True, True, False])
INDEXING = [
    case(f"getitem-{name}", fn, (3, 4, 5))
    for name, fn in [
        ("int", lambda L, x: x[1]),
        ("negative-int", lambda L, x: x[-1, :, 2]),
        ("slices", lambda L, x: x[1:, ::2, -3:]),
        ("none-ellipsis", lambda L, x: x[None, ..., 2]),
        ("ellipsis-int", lambda L, x: x[..., -1]),
        ("duplicate-list", lambda L, x: x[[0, 0, 1]]),
        (
            "int-tensors",
            lambda L, x: x[L.tensor(np.array([2, 0, 2])), :, L.tensor(np.array([1, 1, 3]))],
        ),
        ("bool-mask-last", lambda L, x: x[..., L.tensor(MASK)]),
        ("bool-mask-full", lambda L, x: x[L.tensor(np.arange(60).reshape(3, 4, 5) % 3 == 0)]),
        ("int-and-list", lambda L, x: x[1, [0, 0, 3]]),
        ("slice-and-list", lambda L, x: x[1:, [3, 0, 3]]),
        ("2d-index-tensor", lambda L, x: x[L.tensor(np.array([[0, 1], [2, 0]]))]),
    ]
]

JOINS = [
    case("cat-0", lambda L, x, y: L.cat([x, y, x], 0), (2, 3), (4, 3)),
    case("cat-negative", lambda L, x, y: L.cat([x, y], -1), (2, 3), (2, 1)),
    case("stack-0", lambda L, x, y: L.stack([x, y, x], 0), (2, 3), (2, 3)),
    case("stack-negative", lambda L, x, y: L.stack([x, y], -1), (2, 3), (2, 3)),
    case(
        "split-int",
        lambda L, x: L.cat([p * float(i + 1) for i, p in enumerate(x.split(2, 1))], 1),
        (3, 5),
    ),
    case(
        "split-sections",
        lambda L, x: L.cat([p * float(i + 1) for i, p in enumerate(x.split([1, 3, 1], -1))], -1),
        (3, 5),
    ),
    case(
        "where",
        lambda L, x, y: L.where(L.tensor(np.arange(12).reshape(3, 4) % 2 == 0), x, y),
        (3, 4),
        (4,),
    ),
    case(
        "where-broadcast-condition",
        lambda L, x, y: L.where(L.tensor(MASK[:, None]), x, y),
        (5, 1),
        (1, 3),
    ),
    case("masked_fill", lambda L, x: x.masked_fill(L.tensor(MASK), -1.0), (3, 5)),
]


def run_both(fn, arrays, upstream_seed=7):
    tiny_inputs = [Tensor(a, requires_grad=True) for a in arrays]
    torch_inputs = [torch.tensor(a, requires_grad=True) for a in arrays]
    tiny_out, torch_out = fn(TinyOps, *tiny_inputs), fn(TorchOps, *torch_inputs)
    upstream = np.random.default_rng(upstream_seed).standard_normal(tiny_out.shape)
    upstream = upstream.astype(np.float32)
    tiny_out.backward(upstream)
    torch_out.backward(torch.tensor(upstream))
    return tiny_out, torch_out, tiny_inputs, torch_inputs


@pytest.mark.parametrize(
    "fn, specs",
    BINARY + SCALAR_FORMS + MATMUL + UNARY + REDUCTIONS + SOFTMAXES + SHAPE_OPS + INDEXING + JOINS,
)
def test_forward_and_gradients_match_torch(fn, specs):
    rng = np.random.default_rng(2024)
    arrays = [sampler(rng, shape) for shape, sampler in specs]
    tiny_out, torch_out, tiny_inputs, torch_inputs = run_both(fn, arrays)
    assert tiny_out.shape == tuple(torch_out.shape)
    assert tiny_out.dtype == np.float32
    np.testing.assert_allclose(tiny_out.data, torch_out.detach().numpy(), rtol=RTOL, atol=ATOL)
    for i, (ours, theirs) in enumerate(zip(tiny_inputs, torch_inputs, strict=True)):
        assert ours.grad.dtype == np.float32 and ours.grad.shape == ours.shape
        np.testing.assert_allclose(
            ours.grad, theirs.grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=f"input {i}"
        )


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
def test_max_ties_share_the_gradient_like_amax(dim):
    arrays = [np.array([[1.0, 3.0, 3.0], [2.0, 2.0, -1.0]], np.float32)]
    tiny_out, torch_out, tiny_inputs, torch_inputs = run_both(
        lambda L, x: L.amax(x, dim=dim), arrays
    )
    np.testing.assert_allclose(tiny_out.data, torch_out.detach().numpy())
    np.testing.assert_allclose(tiny_inputs[0].grad, torch_inputs[0].grad.numpy(), rtol=RTOL)


def test_tied_maximum_splits_its_gradient_equally():
    x = Tensor(np.array([1.0, 5.0, 5.0, 5.0, 0.0], np.float32), requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad, np.array([0, 1, 1, 1, 0], np.float32) / 3.0)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmaxes_are_stable_at_extreme_logits(op):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], np.float32)
    fn = {"softmax": lambda L, x: x.softmax(-1), "log_softmax": lambda L, x: x.log_softmax(-1)}[op]
    tiny_out, torch_out, tiny_inputs, torch_inputs = run_both(fn, [logits])
    assert np.all(np.isfinite(tiny_out.data)) and np.all(np.isfinite(tiny_inputs[0].grad))
    np.testing.assert_allclose(tiny_out.data, torch_out.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(
        tiny_inputs[0].grad, torch_inputs[0].grad.numpy(), rtol=RTOL, atol=ATOL
    )


def test_kinks_take_torch_subgradients():
    """At relu(0), abs(0) and the clip bounds the gradient is a convention: match PyTorch's."""
    values = np.array([-1.0, -0.5, 0.0, 0.5, 1.0], np.float32)
    for fn in (
        lambda L, x: x.relu(),
        lambda L, x: x.abs(),
        lambda L, x: x.clip(-0.5, 0.5),
        lambda L, x: x**0,
        lambda L, x: x**2,
    ):
        _, _, tiny_inputs, torch_inputs = run_both(fn, [values])
        np.testing.assert_array_equal(tiny_inputs[0].grad, torch_inputs[0].grad.numpy())


def test_comparisons_match_torch_and_carry_no_gradient():
    rng = np.random.default_rng(3)
    a, b = (
        rng.integers(0, 3, (3, 4)).astype(np.float32),
        rng.integers(0, 3, (4,)).astype(np.float32),
    )
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a), torch.tensor(b)
    pairs = [
        (x < y, ta < tb),
        (x <= y, ta <= tb),
        (x > y, ta > tb),
        (x >= y, ta >= tb),
        (x == y, ta == tb),
        (x != y, ta != tb),
        (x > 1.0, ta > 1.0),
        (x == 2, ta == 2),
    ]
    for ours, theirs in pairs:
        assert ours.dtype == np.bool_ and not ours.requires_grad and ours.grad_fn is None
        np.testing.assert_array_equal(ours.data, theirs.numpy())
