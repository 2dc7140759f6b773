"""`tinytorch.nn.functional` against `torch.nn.functional`: values, dtypes, shapes and the
gradient of every tensor input, with PyTorch's argument names and layouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import tinytorch
import tinytorch.nn.functional as F
from tests.torch_compat.parity import assert_same

RNG = np.random.default_rng(0)


def floats(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def ids(high, *shape):
    return RNG.integers(0, high, shape)


class Constant:
    """An input without gradient (an attention mask): made a tensor with requires_grad=False."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array


# name -> (function of (F, *tensors), input arrays); float arrays require grad
CASES = {
    "linear": (lambda F, x, w, b: F.linear(x, w, b), floats(2, 3, 4), floats(5, 4), floats(5)),
    "linear-no-bias": (lambda F, x, w: F.linear(x, w), floats(6, 4), floats(2, 4)),
    "embedding": (lambda F, i, w: F.embedding(i, w), ids(7, 3, 4), floats(7, 5)),
    "embedding-padding": (
        lambda F, i, w: F.embedding(i, w, padding_idx=0), ids(7, 9), floats(7, 3)
    ),
    "layer_norm": (
        lambda F, x, w, b: F.layer_norm(x, w.shape, w, b, 1e-5), floats(2, 3, 8), floats(8),
        floats(8),
    ),
    "layer_norm-no-affine": (lambda F, x: F.layer_norm(x, (3, 8)), floats(2, 3, 8)),
    "layer_norm-bias-only": (
        lambda F, x, b: F.layer_norm(x, [8], None, b), floats(4, 8), floats(8)
    ),
    "softmax": (lambda F, x: F.softmax(x, dim=-1), floats(2, 3, 5)),
    "softmax-dim0-dtype": (lambda F, x: F.softmax(x, 0, dtype=torch_or_tiny(F).float64),
                           floats(4, 3)),
    "log_softmax": (lambda F, x: F.log_softmax(x, dim=1), floats(2, 3, 5)),
    "gelu": (lambda F, x: F.gelu(x), floats(4, 6)),
    "gelu-tanh": (lambda F, x: F.gelu(x, approximate="tanh"), floats(4, 6)),
    "silu": (lambda F, x: F.silu(x), floats(4, 6)),
    "relu": (lambda F, x: F.relu(x), floats(4, 6)),
    "tanh": (lambda F, x: F.tanh(x), floats(4, 6)),
    "sigmoid": (lambda F, x: F.sigmoid(x), floats(4, 6)),
    "dropout-eval": (lambda F, x: F.dropout(x, 0.5, training=False), floats(4, 6)),
    "dropout-zero": (lambda F, x: F.dropout(x, p=0.0), floats(4, 6)),
    "pad-last": (lambda F, x: F.pad(x, (1, 2)), floats(2, 3, 4)),
    "pad-two-axes-value": (lambda F, x: F.pad(x, (0, 1, 2, 0), value=-1.5), floats(2, 3, 4)),
    "pad-crop": (lambda F, x: F.pad(x, (-1, 1, 0, -2)), floats(2, 3, 4)),
    "cross_entropy": (lambda F, x, t: F.cross_entropy(x, t), floats(6, 5), ids(5, 6)),
    "cross_entropy-one": (lambda F, x, t: F.cross_entropy(x, t), floats(5), np.array(3)),
    "cross_entropy-spatial": (
        lambda F, x, t: F.cross_entropy(x, t, reduction="none"), floats(2, 5, 3, 4), ids(5, 2, 3, 4)
    ),
    "cross_entropy-ignore-smooth": (
        lambda F, x, t: F.cross_entropy(x, t, ignore_index=2, label_smoothing=0.1), floats(8, 5),
        ids(5, 8),
    ),
    "cross_entropy-sum": (lambda F, x, t: F.cross_entropy(x, t, reduction="sum"), floats(8, 5),
                          ids(5, 8)),
    "mse_loss": (lambda F, x, y: F.mse_loss(x, y), floats(3, 4), floats(3, 4)),
    "mse_loss-none": (
        lambda F, x, y: F.mse_loss(x, y, reduction="none"), floats(3, 4), floats(3, 4)
    ),
    "sdpa-causal": (
        lambda F, q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        floats(2, 3, 5, 4), floats(2, 3, 5, 4), floats(2, 3, 5, 4),
    ),
    "sdpa-bool-mask-scale": (
        lambda F, q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.3),
        floats(2, 5, 4), floats(2, 6, 4), floats(2, 6, 3),
        np.tril(np.ones((5, 6), bool), 1),
    ),
    "sdpa-float-mask": (
        lambda F, q, k, v, m: F.scaled_dot_product_attention(q, k, v, m, 0.0),
        floats(3, 4), floats(3, 4), floats(3, 4), Constant(floats(3, 3)),
    ),
}


def make(L, array):
    """A tensor of library L; floating inputs require grad unless marked Constant."""
    if isinstance(array, Constant):
        return L.tensor(array.array)
    return L.tensor(array, requires_grad=array.dtype.kind == "f")


def torch_or_tiny(functional):
    return torch if functional is TF else tinytorch


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_functional_matches_pytorch(case):
    fn, *arrays = case
    outputs, grads = [], []
    for functional, L in ((F, tinytorch), (TF, torch)):
        inputs = [make(L, a) for a in arrays]
        out = fn(functional, *inputs)
        upstream = np.random.default_rng(1).standard_normal(tuple(out.shape))
        out.backward(L.tensor(upstream, dtype=out.dtype))
        outputs.append(out.detach())
        grads.append([t.grad for t in inputs])
    assert_same(outputs[0], outputs[1], rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(*grads, strict=True):
        assert (ours is None) == (theirs is None)
        if theirs is not None:
            np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-4, atol=1e-6)


def test_functional_ops_use_the_fused_kernels():
    x = tinytorch.randn(2, 8, requires_grad=True)
    weight = tinytorch.ones(8, requires_grad=True)
    assert type(F.layer_norm(x, (8,), weight).grad_fn).__name__ == "LayerNormFunction"
    assert type(F.softmax(x, dim=-1).grad_fn).__name__ == "Softmax"
    assert type(F.linear(x, tinytorch.ones(3, 8)).grad_fn).__name__ == "LinearFunction"
    loss = F.cross_entropy(x, tinytorch.tensor([1, 2]))
    assert type(loss.grad_fn).__name__ == "CrossEntropyFunction"


def test_one_hot_matches_pytorch():
    labels = np.array([[0, 3], [2, 1]])
    assert_same(F.one_hot(tinytorch.tensor(labels)), TF.one_hot(torch.tensor(labels)))
    assert_same(F.one_hot(tinytorch.tensor(labels), 6), TF.one_hot(torch.tensor(labels), 6))


def test_inplace_dropout_that_changes_nothing_writes_nothing():
    """In eval mode (or p=0) PyTorch returns the input untouched: no write, so a graph that
    already used it still backpropagates, and a leaf that requires grad is not refused."""
    for library in (torch, tinytorch):
        LF = TF if library is torch else F
        leaf = library.ones(2, 3, requires_grad=True)
        hidden = leaf * 2
        used = hidden.exp()
        for kwargs in ({"training": False}, {"p": 0.0}):
            assert LF.dropout(hidden, inplace=True, **kwargs) is hidden
            assert LF.dropout(leaf, inplace=True, **kwargs) is leaf
        used.sum().backward()
        np.testing.assert_allclose(np.asarray(leaf.grad), 2 * np.exp(2.0), rtol=1e-6)


def test_dropout_in_training_zeroes_and_rescales():
    tinytorch.manual_seed(0)
    out = F.dropout(tinytorch.ones(100, 100), p=0.25).numpy()
    assert set(np.unique(out)) == {0.0, np.float32(1 / 0.75)}
    assert abs((out == 0).mean() - 0.25) < 0.02


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: F.softmax(tinytorch.ones(3)), TypeError, "needs dim="),
        (lambda: F.cross_entropy(tinytorch.ones(2, 3), tinytorch.tensor([0, 1]),
                                 weight=tinytorch.ones(3)), ValueError, "per-class weight"),
        (lambda: F.cross_entropy(tinytorch.ones(2, 3, 4), tinytorch.tensor([[0, 1, 2]] * 2)),
         ValueError, r"expected \(2, 4\) \(PyTorch layout, classes on axis 1\)"),
        (lambda: F.pad(tinytorch.ones(2, 3), (1, 1), mode="reflect"), ValueError,
         "pad mode 'reflect' is not supported"),
        (lambda: F.scaled_dot_product_attention(*[tinytorch.ones(1, 2, 2)] * 3, enable_gqa=True),
         ValueError, "enable_gqa"),
        (lambda: F.mse_loss(tinytorch.ones(2), tinytorch.ones(2), reduce=True), TypeError,
         "use reduction="),
    ],
    ids=["softmax-dim", "ce-weight", "ce-layout", "pad-mode", "sdpa-gqa", "legacy-reduce"],
)
def test_unsupported_arguments_raise_clearly(call, error, match):
    with pytest.raises(error, match=match):
        call()
