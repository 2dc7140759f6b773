"""Creation functions called as PyTorch code calls them give PyTorch's values, dtypes, shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinytorch
from tests.torch_compat.parity import assert_same, dtype_name

CALLS = {
    "zeros-ints": lambda L: L.zeros(2, 3),
    "zeros-tuple-long": lambda L: L.zeros((2, 3), dtype=L.long),
    "zeros-size": lambda L: L.zeros(L.ones(4, 5).size()),
    "ones-bool": lambda L: L.ones(3, dtype=L.bool),
    "ones-device": lambda L: L.ones(2, 2, device="cpu"),
    "full-int": lambda L: L.full((2, 2), 7),
    "full-float": lambda L: L.full((3,), 1.5),
    "full-bool": lambda L: L.full((2,), True),
    "full-dtype": lambda L: L.full((2,), 3, dtype=L.float64),
    "zeros_like-keeps-dtype": lambda L: L.zeros_like(L.ones(2, 3, dtype=L.long)),
    "ones_like-dtype": lambda L: L.ones_like(L.zeros(2), dtype=L.int32),
    "full_like": lambda L: L.full_like(L.zeros(2, 2), 0.25),
    "empty-shape": lambda L: L.empty(2, 5).zero_(),
    "empty_like": lambda L: L.empty_like(L.ones(3, dtype=L.long)).fill_(4),
    "arange-end": lambda L: L.arange(5),
    "arange-step": lambda L: L.arange(1, 10, 3),
    "arange-float": lambda L: L.arange(0, 1, 0.25),
    "arange-negative-step": lambda L: L.arange(5, 0, -2),
    "arange-dtype-device": lambda L: L.arange(0, 6, dtype=L.long, device="cpu"),
    "arange-float-dtype": lambda L: L.arange(4, dtype=L.float32),
    "tensor-ints": lambda L: L.tensor([[1, 2], [3, 4]]),
    "tensor-floats": lambda L: L.tensor([1.0, 2.5]),
    "tensor-bools": lambda L: L.tensor([True, False]),
    "tensor-scalar": lambda L: L.tensor(3),
    "tensor-dtype": lambda L: L.tensor([1, 2], dtype=L.float),
    "tensor-float64-array": lambda L: L.tensor(np.array([0.1, 0.2])),
    "tensor-int32-array": lambda L: L.tensor(np.array([1, 2], dtype=np.int32)),
    "tensor-python-float-dtype": lambda L: L.tensor([1, 2], dtype=float),
    "as_tensor": lambda L: L.as_tensor([1.0, 2.0]),
    "from_numpy": lambda L: L.from_numpy(np.arange(6.0).reshape(2, 3)),
    "linspace": lambda L: L.linspace(0, 1, 5),
    "eye": lambda L: L.eye(3),
    "eye-rect": lambda L: L.eye(2, 4, dtype=L.long),
    "tril": lambda L: L.tril(L.ones(3, 4)),
    "tril-diagonal": lambda L: L.tril(L.ones(2, 4, 4), diagonal=-1),
    "triu-diagonal": lambda L: L.triu(L.ones(3, 3), diagonal=1),
    "cat-dim": lambda L: L.cat((L.zeros(2, 1), L.ones(2, 3)), dim=1),
    "cat-promotes": lambda L: L.cat([L.zeros(2, dtype=L.long), L.ones(2)]),
    "stack-dim": lambda L: L.stack([L.arange(3), L.arange(3) * 2], dim=1),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_creation_matches_pytorch(call):
    assert_same(call(tinytorch), call(torch))


def test_from_numpy_shares_memory_and_tensor_copies():
    array = np.zeros(3, dtype=np.float32)
    shared, copied = tinytorch.from_numpy(array), tinytorch.tensor(array)
    array[0] = 5.0
    assert shared[0].item() == 5.0 and copied[0].item() == 0.0


def test_as_tensor_returns_the_tensor_itself_when_nothing_changes():
    x = tinytorch.ones(2)
    assert tinytorch.as_tensor(x) is x
    assert tinytorch.as_tensor(x, dtype=tinytorch.float64).dtype == tinytorch.float64


def test_requires_grad_at_creation():
    x = tinytorch.zeros(2, 3, requires_grad=True)
    assert x.requires_grad and x.is_leaf
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0, np.float32))
    with pytest.raises(TypeError, match="floating-point"):
        tinytorch.zeros(2, dtype=tinytorch.long, requires_grad=True)


@pytest.mark.parametrize(
    "call",
    [
        lambda L: L.zeros(-1),
        lambda L: L.zeros(2.5),
        lambda L: L.arange(0, 3, 0),
    ],
    ids=["negative-size", "float-size", "zero-step"],
)
def test_bad_arguments_are_refused_like_pytorch(call):
    with pytest.raises((TypeError, RuntimeError, ValueError)):
        call(torch)
    with pytest.raises((TypeError, ValueError)):
        call(tinytorch)


def test_python_ints_beyond_int64_are_refused_not_wrapped():
    """PyTorch raises "Overflow when unpacking long"; NumPy would wrap 2**64 - 1 to -1."""
    with pytest.raises((RuntimeError, ValueError), match="Overflow"):
        torch.tensor([2**64 - 1])
    with pytest.raises(ValueError, match="does not fit in int64"):
        tinytorch.tensor([2**64 - 1])
    with pytest.raises(ValueError, match="does not fit in int64"):
        tinytorch.full((2,), 2**64 - 1)


def test_dtype_names_are_pytorchs():
    names = ["float32", "float", "float64", "double", "int64", "long", "int32", "int",
             "int16", "short", "int8", "uint8", "bool"]
    for name in names:
        assert dtype_name(getattr(tinytorch, name)) == dtype_name(getattr(torch, name)), name
    assert tinytorch.get_default_dtype() == tinytorch.float32
    assert tinytorch.is_floating_point(tinytorch.ones(1))
    assert not tinytorch.is_floating_point(tinytorch.ones(1, dtype=tinytorch.long))


@pytest.mark.parametrize("name", ["float16", "half", "bfloat16"])
def test_half_precision_names_exist_and_refuse_use(name):
    dtype = getattr(tinytorch, name)
    with pytest.raises(TypeError, match="is not supported: tinytorch computes in float32"):
        tinytorch.zeros(2, dtype=dtype)
    with pytest.raises(TypeError, match="is not supported"):
        tinytorch.ones(2).to(dtype)
