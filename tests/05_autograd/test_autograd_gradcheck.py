"""Every differentiable op's backward, checked against float64 central differences.

Inputs are drawn away from the points where an op is not differentiable (relu/abs at 0, clip at
its bounds, ties in max) so that finite differences are meaningful there; ties are covered by
the PyTorch parity tests.
"""

import numpy as np
import pytest

from tinytorch.core import functional as F
from tinytorch.core.tensor import Tensor
from tinytorch.testing import gradcheck

SHAPES = (3, 4, 5)


def normal(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def away_from_kinks(rng, shape):
    """|x| in a few bands that stay >= 0.05 away from 0 and from +-0.5 (the clip bounds used)."""
    bands = rng.choice([0.2, 0.3, 0.7, 0.9, 1.2], size=shape) + rng.uniform(-0.04, 0.04, shape)
    return bands * rng.choice([-1.0, 1.0], size=shape)


def distinct(rng, shape):
    """Values at least 0.05 apart, so the max is unique and stays put under a 1e-6 nudge."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * 0.1 + rng.uniform(0.0, 0.05, size)).reshape(shape)


def case(name, fn, *inputs):
    """`inputs` are (shape, sampler) pairs, or bare shapes sampled from a normal."""
    specs = [spec if len(spec) == 2 and callable(spec[1]) else (spec, normal) for spec in inputs]
    return pytest.param(fn, specs, id=name)


BROADCAST_PAIRS = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((2, 1, 4), (3, 1)),
    ((), (2, 3)),
    ((4, 1), (1, 5)),
]

BINARY = [
    case(f"{name}-{a}-{b}", fn, (a, first), (b, second))
    for a, b in BROADCAST_PAIRS
    for name, fn, first, second in [
        ("add", lambda x, y: x + y, normal, normal),
        ("sub", lambda x, y: x - y, normal, normal),
        ("mul", lambda x, y: x * y, normal, normal),
        ("div", lambda x, y: x / y, normal, positive),
        ("pow", lambda x, y: x**y, positive, normal),
    ]
]

SCALAR_FORMS = [
    case("radd", lambda x: 2.5 + x, (3, 4)),
    case("rsub", lambda x: 2.5 - x, (3, 4)),
    case("rmul", lambda x: 2.5 * x, (3, 4)),
    case("rdiv", lambda x: 2.5 / x, ((3, 4), positive)),
    case("rpow", lambda x: 2.5**x, (3, 4)),
    case("pow-int", lambda x: x**3, (3, 4)),
    case("pow-half", lambda x: x**0.5, ((3, 4), positive)),
    case("pow-zero", lambda x: x**0, (3, 4)),
    case("add-int", lambda x: x + 2, (3, 4)),
    case("div-int", lambda x: x / 2, (3, 4)),
    case("neg", lambda x: -x, (3, 4)),
]

MATMUL = [
    case(f"matmul-{a}-{b}", lambda x, y: x @ y, a, b)
    for a, b in [
        ((4,), (4,)),
        ((4,), (4, 3)),
        ((3, 4), (4,)),
        ((3, 4), (4, 2)),
        ((2, 3, 4), (4, 5)),
        ((2, 1, 3, 4), (5, 4, 2)),
        ((3, 4), (2, 4, 5)),
        ((4,), (2, 4, 3)),
        ((2, 3, 4), (4,)),
    ]
]

UNARY = [
    case("exp", lambda x: x.exp(), SHAPES),
    case("log", lambda x: x.log(), (SHAPES, positive)),
    case("sqrt", lambda x: x.sqrt(), (SHAPES, positive)),
    case("tanh", lambda x: x.tanh(), SHAPES),
    case("sigmoid", lambda x: x.sigmoid(), SHAPES),
    case("relu", lambda x: x.relu(), (SHAPES, away_from_kinks)),
    case("gelu", lambda x: x.gelu(), SHAPES),
    case("gelu-tanh", lambda x: x.gelu(approximate="tanh"), SHAPES),
    case("abs", lambda x: x.abs(), (SHAPES, away_from_kinks)),
    case("clip", lambda x: x.clip(-0.5, 0.5), (SHAPES, away_from_kinks)),
    case("clip-min", lambda x: x.clip(min=-0.5), (SHAPES, away_from_kinks)),
    case("clip-max", lambda x: x.clip(max=0.5), (SHAPES, away_from_kinks)),
]

AXES = [None, 1, -1, (0, 2), (-1, -3)]
REDUCTIONS = [
    case(f"{name}-axis{axis}-keep{keep}", fn(axis, keep), (SHAPES, sampler))
    for axis in AXES
    for keep in (False, True)
    for name, fn, sampler in [
        ("sum", lambda axis, keep: lambda x: x.sum(axis=axis, keepdims=keep), normal),
        ("mean", lambda axis, keep: lambda x: x.mean(axis=axis, keepdims=keep), normal),
        ("max", lambda axis, keep: lambda x: x.amax(() if axis is None else axis, keep), distinct),
        ("var", lambda axis, keep: lambda x: x.var(axis=axis, keepdims=keep), normal),
        (
            "var-c0",
            lambda axis, keep: lambda x: x.var(axis=axis, keepdims=keep, correction=0),
            normal,
        ),
    ]
]

SOFTMAXES = [
    case(f"{name}-axis{axis}", fn(axis), SHAPES)
    for axis in (-1, 0, 1)
    for name, fn in [
        ("softmax", lambda axis: lambda x: x.softmax(axis)),
        ("log_softmax", lambda axis: lambda x: x.log_softmax(axis)),
    ]
]

SHAPE_OPS = [
    case("reshape", lambda x: x.reshape(-1, 4), SHAPES),
    case("reshape-flat", lambda x: x.reshape(60), SHAPES),
    case("view", lambda x: x.view(5, -1) * x.view(5, 12), SHAPES),
    case("transpose-swap", lambda x: x.transpose(0, 2), SHAPES),
    case("transpose-negative", lambda x: x.transpose(-1, -2), SHAPES),
    case("T", lambda x: x.T, (4, 5)),
    case("permute", lambda x: x.permute(2, 0, 1), SHAPES),
    case("permute-negative", lambda x: x.permute(-1, 0, -2), SHAPES),
    case("unsqueeze", lambda x: x.unsqueeze(0), (4, 5)),
    case("unsqueeze-negative", lambda x: x.unsqueeze(-1), (4, 5)),
    case("squeeze-axis", lambda x: x.squeeze(1), (2, 1, 3)),
    case("squeeze-all", lambda x: x.squeeze(), (1, 3, 1)),
]

MASK = np.array([True, False, True, True, False])
INDEXING = [
    case(f"getitem-{name}", lambda x, index=index: x[index], SHAPES)
    for name, index in [
        ("int", 1),
        ("negative-int-step", (-1, slice(None, None, 2))),
        ("negative-step", (slice(None, None, -1), slice(1, 3))),
        ("none-ellipsis", (None, Ellipsis, 2)),
        ("duplicate-list", [0, 0, 1]),
        ("int-arrays", (np.array([2, 0, 2]), slice(None), [1, 1, 3])),
        ("bool-mask-last", (Ellipsis, MASK)),
        ("bool-mask-full", np.arange(60).reshape(SHAPES) % 3 == 0),
        ("tensor-index", Tensor(np.array([0, 2, 0]))),
        ("int-and-list", (1, [0, 0, 3])),
        ("ellipsis-array", (Ellipsis, np.array([4, 0, 4]))),
    ]
]

JOINS = [
    case("concatenate-0", lambda x, y: F.concatenate([x, y, x], axis=0), (2, 3), (4, 3)),
    case("concatenate-neg", lambda x, y: F.concatenate([x, y], axis=-1), (2, 3), (2, 1)),
    case("stack-0", lambda x, y: F.stack([x, y, x], axis=0), (2, 3), (2, 3)),
    case("stack-neg", lambda x, y: F.stack([x, y], axis=-1), (2, 3), (2, 3)),
    case("stack-middle", lambda x, y: F.stack([x, y], axis=1), (2, 3), (2, 3)),
    case(
        "split-int",
        lambda x: F.concatenate(
            [p * float(i + 1) for i, p in enumerate(x.split(2, axis=1))], axis=1
        ),
        (3, 5),
    ),
    case(
        "split-sections",
        lambda x: F.concatenate(
            [p * float(i + 1) for i, p in enumerate(x.split([1, 3, 1], axis=-1))], axis=-1
        ),
        (3, 5),
    ),
    case("where", lambda x, y: F.where(np.arange(12).reshape(3, 4) % 2 == 0, x, y), (3, 4), (4,)),
    case("where-broadcast-condition", lambda x, y: F.where(MASK[:, None], x, y), (5, 1), (1, 3)),
    case("masked_fill", lambda x: x.masked_fill(MASK[None, :], -1.0), (3, 5)),
]

COMPOSITES = [
    case(
        "attention",
        lambda q, k, v: (q @ k.transpose(-1, -2) * 0.5).softmax(-1) @ v,
        (2, 3, 4),
        (2, 5, 4),
        (2, 5, 4),
    ),
    case(
        "layernorm-by-hand",
        lambda x: (
            (x - x.mean(-1, keepdims=True)) / (x.var(-1, keepdims=True, correction=0) + 1e-5).sqrt()
        ),
        (3, 6),
    ),
    case("shared-input", lambda x: x * x.exp() + x.tanh() * x, (3, 4)),
]


@pytest.mark.parametrize(
    "fn, specs",
    BINARY
    + SCALAR_FORMS
    + MATMUL
    + UNARY
    + REDUCTIONS
    + SOFTMAXES
    + SHAPE_OPS
    + INDEXING
    + JOINS
    + COMPOSITES,
)
def test_gradient_matches_central_differences(fn, specs):
    rng = np.random.default_rng(1234)
    gradcheck(fn, *(sampler(rng, shape) for shape, sampler in specs))
