"""Shape-op and indexing semantics that value parity alone does not pin down, and their errors."""

import numpy as np
import pytest

from tinytorch.core import functional as F
from tinytorch.core.tensor import Tensor


def arange(*shape, requires_grad=True):
    return Tensor(
        np.arange(np.prod(shape), dtype=np.float32).reshape(shape), requires_grad=requires_grad
    )


# ------------------------------------------------------------------------ transpose / permute
def test_two_axis_transpose_swaps_for_every_ndim():
    m = arange(2, 3)
    assert m.transpose(0, 1).shape == (3, 2) and m.transpose(1, 0).shape == (3, 2)
    np.testing.assert_array_equal(m.transpose(0, 1).data, m.data.T)
    x = arange(2, 3, 4, 5)
    assert x.transpose(1, 3).shape == (2, 5, 4, 3)
    assert x.transpose(-1, 0).shape == (5, 3, 4, 2)
    assert x.T.shape == (5, 4, 3, 2)
    assert x.permute(0, 2, 1, 3).shape == (2, 4, 3, 5)


def test_permute_with_negative_axes_routes_the_gradient_back():
    x = arange(2, 3, 4)
    y = x.permute(-1, 0, -2)
    assert y.shape == (4, 2, 3)
    y.backward(np.arange(24, dtype=np.float32).reshape(4, 2, 3))
    assert x.grad.shape == (2, 3, 4)
    np.testing.assert_array_equal(x.grad, np.arange(24).reshape(4, 2, 3).transpose(1, 2, 0))


@pytest.mark.parametrize(
    "op",
    [
        lambda x: x.sum(axis=3),
        lambda x: x.mean(axis=-4),
        lambda x: x.amax((0, 5)),
        lambda x: x.var(dim=3),
        lambda x: x.transpose(0, 3),
        lambda x: x.permute(0, 1, 3),
        lambda x: x.unsqueeze(4),
        lambda x: x.unsqueeze(-5),
        lambda x: x.squeeze(3),
        lambda x: x.flatten(0, 3),
    ],
    ids=[
        "sum",
        "mean",
        "max",
        "var",
        "transpose",
        "permute",
        "unsqueeze",
        "unsqueeze-negative",
        "squeeze",
        "flatten",
    ],
)
def test_out_of_range_axes_raise_instead_of_wrapping(op):
    with pytest.raises(IndexError, match="out of range for a tensor with"):
        op(arange(2, 3, 4))


# ------------------------------------------------------------------------------ reshape etc.
def test_reshape_view_squeeze_unsqueeze():
    x = arange(2, 3, 4)
    assert x.reshape(-1).shape == (24,) and x.view(4, -1).shape == (4, 6)
    assert x.reshape((3, 8)).shape == (3, 8)
    assert x.unsqueeze(0).shape == (1, 2, 3, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert x.unsqueeze(3).shape == (2, 3, 4, 1) and x.unsqueeze(1).shape == (2, 1, 3, 4)
    y = arange(1, 3, 1)
    assert y.squeeze().shape == (3,) and y.squeeze(-1).shape == (1, 3)
    assert y.squeeze(1).shape == (1, 3, 1)  # not of size 1: unchanged, like PyTorch
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12)
    with pytest.raises(ValueError):
        x.reshape(5, -1)


# ------------------------------------------------------------------------------- indexing
def test_duplicate_indices_accumulate_their_gradients():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 1.0, 0.0])


def test_duplicate_tensor_indices_in_two_dims_accumulate():
    x = arange(3, 4)
    rows, cols = Tensor(np.array([0, 0, 2, 0])), Tensor(np.array([1, 1, 3, 2]))
    x[rows, cols].sum().backward()
    expected = np.zeros((3, 4), np.float32)
    expected[0, 1], expected[2, 3], expected[0, 2] = 2.0, 1.0, 1.0
    np.testing.assert_array_equal(x.grad, expected)


@pytest.mark.parametrize(
    "index",
    [
        (slice(None, None, -1),),
        (slice(None), slice(3, 0, -2)),
        (Ellipsis, None, -1),
        (np.array([True, False, True]),),
        ([2, -1], slice(1, None)),
        (1, np.array([[0, 3], [3, 0]])),
    ],
    ids=["reverse", "negative-step", "ellipsis-none", "bool-mask", "list-slice", "int-2d-array"],
)
def test_indexing_matches_numpy_and_scatters_the_gradient(index):
    x = arange(3, 4)
    out = x[index]
    expected = x.data[index]
    np.testing.assert_array_equal(out.data, expected)
    upstream = np.arange(1, expected.size + 1, dtype=np.float32).reshape(expected.shape)
    out.backward(upstream)
    scattered = np.zeros((3, 4), np.float32)
    np.add.at(scattered, index, upstream)
    np.testing.assert_array_equal(x.grad, scattered)


def test_bool_tensor_mask_selects_and_routes_gradient():
    x = Tensor([-1.0, 2.0, -3.0, 4.0], requires_grad=True)
    picked = x[x > 0]
    np.testing.assert_array_equal(picked.data, [2.0, 4.0])
    picked.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 1.0, 0.0, 1.0])


# ------------------------------------------------------------------ concatenate / stack / split
def test_concatenate_and_stack_with_negative_axes():
    a, b = arange(2, 3), arange(2, 3)
    assert F.concatenate([a, b], axis=-1).shape == (2, 6)
    assert F.stack([a, b], axis=-1).shape == (2, 3, 2)
    assert F.stack([a, b], axis=-3).shape == (2, 2, 3)
    np.testing.assert_array_equal(F.stack([a, b], axis=-1).data[..., 1], b.data)
    with pytest.raises(ValueError, match="at least one tensor"):
        F.concatenate([])
    with pytest.raises(ValueError, match="at least one tensor"):
        F.stack([])


def test_split_by_size_and_by_sections():
    x = arange(2, 7)
    assert [p.shape for p in x.split(3, axis=1)] == [(2, 3), (2, 3), (2, 1)]
    parts = x.split([2, 0, 5], axis=-1)
    assert [p.shape for p in parts] == [(2, 2), (2, 0), (2, 5)]
    np.testing.assert_array_equal(parts[2].data, x.data[:, 2:])
    parts[2].sum().backward()
    np.testing.assert_array_equal(x.grad[:, :2], 0.0)
    np.testing.assert_array_equal(x.grad[:, 2:], 1.0)
    with pytest.raises(ValueError, match=r"do not add up to the axis length 7"):
        x.split([3, 3], axis=1)
    with pytest.raises(ValueError, match="split size must be positive, got 0"):
        x.split(0, axis=1)


# ----------------------------------------------------------------------- where / masked_fill
def test_masked_fill_puts_value_where_mask_is_true_and_blocks_its_gradient():
    x = arange(2, 3)
    mask = np.array([[True, False, False], [False, False, True]])
    out = x.masked_fill(Tensor(mask), -1e9)
    np.testing.assert_array_equal(out.data, np.where(mask, np.float32(-1e9), x.data))
    assert out.dtype == np.float32
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, (~mask).astype(np.float32))


def test_where_requires_a_bool_condition():
    with pytest.raises(TypeError, match="condition must be bool, got dtype int64"):
        F.where(np.array([1, 0]), Tensor([1.0, 2.0]), 0.0)


# --------------------------------------------------------------------------- other boundaries
def test_invalid_arguments_raise_clear_errors():
    x = arange(3)
    with pytest.raises(ValueError, match="at least 1 dim"):
        x @ Tensor(2.0)
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'erf'"):
        x.gelu("erf")
    with pytest.raises(ValueError, match="clip needs at least one of min and max"):
        x.clip()
    with pytest.raises(ValueError, match="max of an empty tensor"):
        Tensor(np.zeros(0, np.float32)).max()
    with pytest.raises(TypeError, match="either axis or dim"):
        x.sum(axis=0, dim=0)


def test_variance_without_degrees_of_freedom_is_nan_like_torch():
    x = Tensor([3.0], requires_grad=True)
    v = x.var()
    assert np.isnan(v.item())
    v.backward()
    assert np.isnan(x.grad[0])
    np.testing.assert_array_equal(Tensor([3.0]).var(correction=0).data, 0.0)
