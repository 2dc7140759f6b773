"""clip_grad_norm_ against torch.nn.utils.clip_grad_norm_, sparse gradients, aliasing, errors."""

import math

import numpy as np
import pytest
import torch

from tinytorch.core.layers import Parameter
from tinytorch.core.optimizers import clip_grad_norm_
from tinytorch.core.sparse import RowSparseGrad

SHAPES = [(5, 4), (4,), (2, 3)]


def make_params(scale: float, seed: int = 0):
    """Our parameters and torch's, with the same gradients (the third has no gradient)."""
    rng = np.random.default_rng(seed)
    grads = [(rng.standard_normal(s) * scale).astype(np.float32) for s in SHAPES[:2]]
    ours = [Parameter(np.zeros(s, np.float32)) for s in SHAPES]
    theirs = [torch.zeros(s, requires_grad=True) for s in SHAPES]
    for p, t, g in zip(ours, theirs, grads, strict=False):
        p.grad, t.grad = g.copy(), torch.tensor(g)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf], ids=["l2", "l1", "inf"])
@pytest.mark.parametrize("scale", [10.0, 0.01], ids=["clipped", "unchanged"])
def test_clip_grad_norm_matches_torch(norm_type, scale):
    ours, theirs = make_params(scale)
    total = clip_grad_norm_(ours, max_norm=1.5, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm=1.5, norm_type=norm_type)
    assert isinstance(total, float)
    np.testing.assert_allclose(total, expected.item(), rtol=1e-5)
    for p, t in zip(ours[:2], theirs[:2], strict=True):
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert ours[2].grad is None


def test_clipping_replaces_gradients_instead_of_scaling_aliases_in_place():
    ours, _ = make_params(10.0)
    originals = [p.grad for p in ours[:2]]
    copies = [g.copy() for g in originals]
    clip_grad_norm_(ours, max_norm=1.0)
    for p, original, copy in zip(ours, originals, copies, strict=False):
        assert p.grad is not original
        np.testing.assert_array_equal(original, copy)
    new_norm = math.sqrt(sum(float(np.sum(p.grad.astype(np.float64) ** 2)) for p in ours[:2]))
    assert new_norm == pytest.approx(1.0, rel=1e-5)


def test_row_sparse_gradients_are_clipped_without_densifying():
    rows = np.array([1, 4, 4, 7])
    values = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32) * 5
    sparse = Parameter(np.zeros((9, 3), np.float32))
    dense = Parameter(np.zeros(4, np.float32))
    sparse.grad = RowSparseGrad.from_rows(rows, values, (9, 3))
    dense.grad = np.full(4, 2.0, np.float32)
    reference = [torch.zeros(9, 3, requires_grad=True), torch.zeros(4, requires_grad=True)]
    reference[0].grad, reference[1].grad = (
        torch.tensor(sparse.grad.to_dense()),
        torch.full((4,), 2.0),
    )

    total = clip_grad_norm_([sparse, dense], max_norm=2.0)
    expected = torch.nn.utils.clip_grad_norm_(reference, max_norm=2.0)
    np.testing.assert_allclose(total, expected.item(), rtol=1e-5)
    assert isinstance(sparse.grad, RowSparseGrad)
    np.testing.assert_array_equal(sparse.grad.indices, [1, 4, 7])
    np.testing.assert_allclose(sparse.grad.to_dense(), reference[0].grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(dense.grad, reference[1].grad.numpy(), rtol=1e-5)


def test_single_tensor_and_no_gradients():
    p = Parameter(np.zeros(3, np.float32))
    assert clip_grad_norm_(p, 1.0) == 0.0
    p.grad = np.array([3.0, 4.0, 0.0], np.float32)
    assert clip_grad_norm_(p, 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad, [0.6, 0.8, 0.0], rtol=1e-5)


def test_non_finite_norm_raises_only_when_asked():
    p = Parameter(np.zeros(2, np.float32))
    p.grad = np.array([np.inf, 1.0], np.float32)
    with pytest.raises(RuntimeError, match="total norm of order 2.0.*inf.*cannot be clipped"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    reference = torch.zeros(2, requires_grad=True)
    reference.grad = torch.tensor([np.inf, 1.0])
    assert math.isinf(clip_grad_norm_([p], 1.0))
    torch.nn.utils.clip_grad_norm_([reference], 1.0)
    np.testing.assert_array_equal(p.grad, reference.grad.numpy())  # [nan, 0] in both


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(max_norm=-1.0), "max_norm must be a non-negative number, got -1.0"),
        (dict(max_norm=1.0, norm_type=0.0), "norm_type must be positive or inf, got 0.0"),
    ],
)
def test_invalid_arguments(kwargs, message):
    p = Parameter(np.zeros(2, np.float32))
    p.grad = np.ones(2, np.float32)
    with pytest.raises(ValueError, match=message):
        clip_grad_norm_([p], **kwargs)
