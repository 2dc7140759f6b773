"""float32 stays float32 through every op and its gradient; integer and mixed-operand rules.

The engine casts a leaf's gradient to the leaf's dtype, which would hide a float64 leak inside
backward, so these tests record the dtype of each gradient *before* that cast.
"""

import numpy as np
import pytest

from tinytorch.core import autograd
from tinytorch.core import functional as F
from tinytorch.core.tensor import Tensor

MASK = np.array([True, False, True, False])

OPS = {
    "add-tensor": lambda x, y: x + y,
    "add-float": lambda x, y: x + 0.1,
    "radd-int": lambda x, y: 3 + x,
    "sub-float": lambda x, y: x - 1e-3,
    "rsub-float": lambda x, y: 0.3 - x,
    "mul-float": lambda x, y: x * 0.1,
    "mul-float64-scalar": lambda x, y: x * np.float64(0.1),
    "mul-float64-array": lambda x, y: x * np.full(4, 0.1),
    "rmul-float64-array": lambda x, y: np.full(4, 0.1) * x,
    "rmul-float64-scalar": lambda x, y: np.float64(0.1) * x,
    "div-float": lambda x, y: x / 3.0,
    "div-int": lambda x, y: x / 3,
    "rdiv-float": lambda x, y: 1.0 / (x.abs() + 1.0),
    "div-tensor": lambda x, y: x / (y.abs() + 1.0),
    "pow-float": lambda x, y: x.abs() ** 1.5,
    "pow-int": lambda x, y: x**2,
    "rpow-float": lambda x, y: 2.0**x,
    "pow-tensor": lambda x, y: (x.abs() + 1.0) ** y,
    "neg": lambda x, y: -x,
    "matmul": lambda x, y: x @ y.T,
    "exp": lambda x, y: x.exp(),
    "log": lambda x, y: (x.abs() + 1.0).log(),
    "sqrt": lambda x, y: (x.abs() + 1.0).sqrt(),
    "tanh": lambda x, y: x.tanh(),
    "sigmoid": lambda x, y: x.sigmoid(),
    "relu": lambda x, y: x.relu(),
    "gelu": lambda x, y: x.gelu(),
    "gelu-tanh": lambda x, y: x.gelu("tanh"),
    "abs": lambda x, y: x.abs(),
    "clip": lambda x, y: x.clip(-0.5, 0.5),
    "clip-float64-bounds": lambda x, y: x.clip(np.float64(-0.5), np.float64(0.5)),
    "clip-int-bounds": lambda x, y: x.clip(-1, 1),
    "sum": lambda x, y: x.sum(axis=1),
    "mean": lambda x, y: x.mean(axis=(0, 1)),
    "max": lambda x, y: x.amax(-1, keepdim=True),
    "var": lambda x, y: x.var(axis=0),
    "var-c0": lambda x, y: x.var(correction=0),
    "softmax": lambda x, y: x.softmax(-1),
    "log_softmax": lambda x, y: x.log_softmax(0),
    "reshape": lambda x, y: x.reshape(-1),
    "transpose": lambda x, y: x.transpose(0, 1),
    "permute": lambda x, y: x.permute(1, 0),
    "unsqueeze-squeeze": lambda x, y: x.unsqueeze(0).squeeze(0),
    "getitem-basic": lambda x, y: x[1:, ::-1],
    "getitem-advanced": lambda x, y: x[[0, 0, 2]][:, MASK],
    "concatenate": lambda x, y: F.concatenate([x, y], axis=-1),
    "stack": lambda x, y: F.stack([x, y]),
    "split": lambda x, y: x.split([1, 3], axis=1)[1],
    "where": lambda x, y: F.where(MASK, x, y),
    "where-float": lambda x, y: F.where(MASK, x, 0.5),
    "masked_fill": lambda x, y: x.masked_fill(MASK, -1e9),
    "to-float64-and-back": lambda x, y: x.double().float(),
}


@pytest.fixture
def raw_leaf_grad_dtypes(monkeypatch):
    """The dtype of every gradient reaching a leaf, before the engine casts it."""
    seen = []
    original = autograd._as_leaf_grad

    def spy(grad, dtype, handed_out):
        seen.append(np.asarray(grad).dtype)
        return original(grad, dtype, handed_out)

    monkeypatch.setattr(autograd, "_as_leaf_grad", spy)
    return seen


@pytest.mark.parametrize("op", OPS.values(), ids=OPS.keys())
def test_float32_in_float32_out_and_float32_gradients(op, raw_leaf_grad_dtypes):
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    y = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    out = op(x, y)
    assert isinstance(out, Tensor) and out.dtype == np.float32
    out.backward(np.ones(out.shape, np.float32))
    assert raw_leaf_grad_dtypes and set(raw_leaf_grad_dtypes) == {np.dtype(np.float32)}
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize(
    "op, dtype, expected",
    [
        (lambda a, b: a / b, np.float32, [0.5, 1.0, 1.5]),
        (lambda a, b: a * 2.5, np.float32, [2.5, 5.0, 7.5]),
        (lambda a, b: a + 0.5, np.float32, [1.5, 2.5, 3.5]),
        (lambda a, b: a + b, np.int64, [3, 4, 5]),
        (lambda a, b: a * b - 1, np.int64, [1, 3, 5]),
        (lambda a, b: a**2, np.int64, [1, 4, 9]),
        (lambda a, b: a @ a, np.int64, 14),
        (lambda a, b: a.sum(), np.int64, 6),
        (lambda a, b: a.max(), np.int64, 3),
        (lambda a, b: -a, np.int64, [-1, -2, -3]),
        (lambda a, b: a.abs(), np.int64, [1, 2, 3]),
        (lambda a, b: a.clip(2, 3), np.int64, [2, 2, 3]),
        (lambda a, b: a.clip(1.5, 2.5), np.float32, [1.5, 2.0, 2.5]),
        (lambda a, b: a.mean(), np.float32, 2.0),
        (lambda a, b: a.var(), np.float32, 1.0),
        (lambda a, b: a.exp().log(), np.float32, [1.0, 2.0, 3.0]),
        (lambda a, b: a.sqrt() ** 2, np.float32, [1.0, 2.0, 3.0]),
        (lambda a, b: a.sigmoid() > 0.5, np.bool_, [True, True, True]),
        (lambda a, b: a.softmax(-1).sum(), np.float32, 1.0),
        (lambda a, b: F.concatenate([a, Tensor([0.5])]), np.float32, [1.0, 2.0, 3.0, 0.5]),
    ],
    ids=[
        "int/int",
        "int*float",
        "int+float",
        "int+int",
        "int-arith",
        "int-pow",
        "int-matmul",
        "int-sum",
        "int-max",
        "int-neg",
        "int-abs",
        "int-clip-int",
        "int-clip-float",
        "int-mean",
        "int-var",
        "int-exp-log",
        "int-sqrt",
        "int-compare",
        "int-softmax",
        "int-float-concatenate",
    ],
)
def test_integer_tensors_follow_torch_promotion(op, dtype, expected):
    a, b = Tensor([1, 2, 3]), Tensor([2, 2, 2])
    out = op(a, b)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)


def test_float64_tensors_stay_float64_and_keep_scalar_precision():
    x = Tensor([1.0], dtype=np.float64, requires_grad=True)
    y = x * 1.0001 + 1e-12
    assert y.dtype == np.float64 and y.item() == 1.0001 + 1e-12
    assert (x + np.full(1, 0.1)).item() == 1.1  # a float64 array is not rounded via float32
    assert (x + Tensor([0.5])).dtype == np.float64  # explicit float32 tensors promote, like torch


def test_ndarray_on_the_left_defers_to_the_tensor():
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    for out in (
        np.ones((2, 2)) + x,
        np.ones((2, 2)) * x,
        np.ones((2, 2)) @ x,
        np.ones((2, 2)) - x,
        np.ones((2, 2)) / x,
    ):
        assert isinstance(out, Tensor) and out.requires_grad and out.dtype == np.float32
