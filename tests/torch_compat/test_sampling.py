"""Random tensors and multinomial: PyTorch's shapes, dtypes, ranges and distributions; seeds and
Generators repeat tinytorch's draws (not PyTorch's numbers: the generators differ)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinytorch
from tests.torch_compat.parity import dtype_name

SHAPES = {
    "randn": lambda L, **kw: L.randn(2, 3, **kw),
    "rand": lambda L, **kw: L.rand((4,), **kw),
    "randint-high": lambda L, **kw: L.randint(10, (3, 2), **kw),
    "randint-low-high": lambda L, **kw: L.randint(5, 9, (7,), **kw),
    "randint-size-keyword": lambda L, **kw: L.randint(3, size=(2,), **kw),
    "randn_like": lambda L, **kw: L.randn_like(L.zeros(2, 2, dtype=L.float64)),
    "rand_like": lambda L, **kw: L.rand_like(L.zeros(3)),
    "randperm": lambda L, **kw: L.randperm(6, **kw),
    "multinomial": lambda L, **kw: L.multinomial(L.tensor([[0.2, 0.8], [0.5, 0.5]]), 3, True, **kw),
}


@pytest.mark.parametrize("call", SHAPES.values(), ids=SHAPES.keys())
def test_shapes_and_dtypes_match_pytorch(call):
    ours, theirs = call(tinytorch), call(torch)
    assert ours.shape == tuple(theirs.shape)
    assert dtype_name(ours.dtype) == dtype_name(theirs.dtype)


SEEDED = {name: call for name, call in SHAPES.items() if not name.endswith("_like")}


@pytest.mark.parametrize("call", SEEDED.values(), ids=SEEDED.keys())
def test_a_generator_repeats_its_draws_and_leaves_the_global_stream_alone(call):
    tinytorch.manual_seed(3)
    expected_global = tinytorch.rand(5).numpy()
    tinytorch.manual_seed(3)
    first = call(tinytorch, generator=tinytorch.Generator().manual_seed(7))
    again = call(tinytorch, generator=tinytorch.Generator().manual_seed(7))
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    np.testing.assert_array_equal(tinytorch.rand(5).numpy(), expected_global)


def test_manual_seed_repeats_the_global_stream():
    tinytorch.manual_seed(11)
    first = (tinytorch.randn(4), tinytorch.randint(100, (4,)), tinytorch.randperm(8))
    tinytorch.manual_seed(11)
    second = (tinytorch.randn(4), tinytorch.randint(100, (4,)), tinytorch.randperm(8))
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_ranges_and_moments():
    generator = tinytorch.Generator().manual_seed(0)
    ints = tinytorch.randint(5, 9, (20000,), generator=generator).numpy()
    assert set(np.unique(ints)) == {5, 6, 7, 8}
    uniform = tinytorch.rand(20000, generator=generator).numpy()
    assert 0.0 <= uniform.min() and uniform.max() < 1.0 and abs(uniform.mean() - 0.5) < 0.01
    normal = tinytorch.randn(20000, generator=generator).numpy()
    assert abs(normal.mean()) < 0.03 and abs(normal.std() - 1.0) < 0.03
    assert sorted(tinytorch.randperm(50, generator=generator).tolist()) == list(range(50))


PROBS = np.array([0.1, 0.0, 0.6, 0.3], dtype=np.float32)


def test_multinomial_with_replacement_follows_the_weights():
    generator = tinytorch.Generator().manual_seed(1)
    weights = tinytorch.tensor(PROBS * 5)  # weights need not sum to 1
    draws = tinytorch.multinomial(weights, 20000, replacement=True, generator=generator)
    assert draws.dtype == tinytorch.long and draws.shape == (20000,)
    frequencies = np.bincount(draws.numpy(), minlength=4) / 20000
    np.testing.assert_allclose(frequencies, PROBS, atol=0.015)
    assert frequencies[1] == 0.0  # a zero weight is never drawn


def test_multinomial_without_replacement_draws_distinct_categories_first_by_weight():
    generator = tinytorch.Generator().manual_seed(2)
    rows = tinytorch.tensor(np.tile(PROBS, (5000, 1)))
    draws = tinytorch.multinomial(rows, 3, generator=generator).numpy()
    assert draws.shape == (5000, 3)
    assert all(len(set(row)) == 3 for row in draws) and not (draws == 1).any()
    first = np.bincount(draws[:, 0], minlength=4) / 5000
    np.testing.assert_allclose(first, PROBS, atol=0.02)
    with pytest.raises(ValueError, match="exceeds the 3 categories with a non-zero weight"):
        tinytorch.multinomial(rows, 4)


@pytest.mark.parametrize(
    "weights, match",
    [
        ([0.5, -0.1], "finite and non-negative"),
        ([0.0, 0.0], "positive sum"),
        ([[[0.5]]], "shape"),
    ],
)
def test_multinomial_refuses_what_pytorch_refuses(weights, match):
    with pytest.raises(RuntimeError):
        torch.multinomial(torch.tensor(weights), 1)
    with pytest.raises(ValueError, match=match):
        tinytorch.multinomial(tinytorch.tensor(weights), 1)
    with pytest.raises(TypeError, match="floating-point"):
        tinytorch.multinomial(tinytorch.tensor([1, 2]), 1)


@pytest.mark.parametrize(
    "draw",
    [
        lambda **device: tinytorch.randn(3, **device),
        lambda **device: tinytorch.rand(3, **device),
        lambda **device: tinytorch.randint(5, (3,), **device),
        lambda **device: tinytorch.randperm(5, **device),
    ],
    ids=["randn", "rand", "randint", "randperm"],
)
def test_a_refused_device_draws_nothing(draw):
    """A seeded run that once asked for "cuda" by mistake still draws the numbers it would have."""
    tinytorch.manual_seed(0)
    expected = draw().numpy()
    tinytorch.manual_seed(0)
    with pytest.raises(ValueError, match="cuda"):
        draw(device="cuda")
    np.testing.assert_array_equal(draw().numpy(), expected)
