"""cross_entropy / mse_loss against PyTorch (forward and gradient), central differences, errors."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from tinytorch.core.autograd import no_grad
from tinytorch.core.errors import IndexOutOfRangeError
from tinytorch.core.losses import CrossEntropyLoss, MSELoss, cross_entropy, mse_loss
from tinytorch.core.tensor import Tensor
from tinytorch.testing import numerical_gradient

RTOL, ATOL = 1e-4, 1e-5


def torch_cross_entropy(logits: torch.Tensor, target: np.ndarray, **kwargs) -> torch.Tensor:
    """PyTorch's cross-entropy for our class-last layout: move classes to axis 1 for 3-D input."""
    if logits.ndim == 3:
        logits = logits.permute(0, 2, 1)
    return TF.cross_entropy(logits, torch.as_tensor(target), **kwargs)


# (logits shape, target shape): rows, a language-model batch, a single example.
SHAPES = [((6, 5), (6,)), ((2, 4, 7), (2, 4)), ((5,), ())]


def make_case(logits_shape, target_shape, ignore: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal(logits_shape) * 3).astype(np.float32)
    target = rng.integers(0, logits_shape[-1], size=target_shape)
    if ignore and target.ndim:
        target.reshape(-1)[[0, 2]] = -100
    return logits, target


# ------------------------------------------------------------------ cross-entropy vs torch
@pytest.mark.parametrize("shapes", SHAPES, ids=["NC", "BTC", "C"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.25])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy_matches_torch(shapes, reduction, label_smoothing, ignore):
    logits, target = make_case(*shapes, ignore)
    x = Tensor(logits, requires_grad=True)
    loss = cross_entropy(x, target, reduction=reduction, label_smoothing=label_smoothing)
    upstream = np.random.default_rng(1).standard_normal(loss.shape).astype(np.float32)
    loss.backward(upstream)

    ref_x = torch.tensor(logits, requires_grad=True)
    ref = torch_cross_entropy(ref_x, target, reduction=reduction, label_smoothing=label_smoothing)
    ref.backward(torch.tensor(upstream))

    assert loss.dtype == np.float32 and x.grad.dtype == np.float32
    assert loss.shape == tuple(ref.shape)
    np.testing.assert_allclose(loss.data, ref.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(x.grad, ref_x.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_cross_entropy_custom_ignore_index_inside_class_range():
    """A padding id that is a real class index (e.g. 0) is ignored, not scored."""
    logits, target = make_case((8, 6), (8,), ignore=False, seed=3)
    target[[1, 4, 5]] = 0
    x = Tensor(logits, requires_grad=True)
    loss = cross_entropy(x, target, ignore_index=0, label_smoothing=0.1)
    loss.backward()
    ref_x = torch.tensor(logits, requires_grad=True)
    ref = TF.cross_entropy(ref_x, torch.tensor(target), ignore_index=0, label_smoothing=0.1)
    ref.backward()
    np.testing.assert_allclose(loss.data, ref.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(x.grad, ref_x.grad.numpy(), rtol=RTOL, atol=ATOL)
    assert np.all(x.grad[[1, 4, 5]] == 0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_gradient_matches_central_differences(reduction, label_smoothing):
    logits, target = make_case((2, 3, 4), (2, 3), ignore=True, seed=5)
    logits = logits.astype(np.float64)
    kwargs = dict(reduction=reduction, label_smoothing=label_smoothing)
    upstream = np.random.default_rng(2).standard_normal(target.shape if reduction == "none" else ())

    x = Tensor(logits, requires_grad=True, dtype=np.float64)
    loss = cross_entropy(x, target, **kwargs)
    assert loss.dtype == np.float64
    loss.backward(upstream)

    def contracted() -> float:
        with no_grad():
            out = cross_entropy(Tensor(logits, dtype=np.float64), target, **kwargs)
        return float(np.sum(out.data * upstream))

    np.testing.assert_allclose(x.grad, numerical_gradient(contracted, logits), rtol=1e-5, atol=1e-8)


def test_cross_entropy_all_targets_ignored_is_nan_for_mean_like_torch():
    logits = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    target = np.full(4, -100)
    for label_smoothing in (0.0, 0.2):
        x = Tensor(logits, requires_grad=True)
        mean_loss = cross_entropy(x, target, label_smoothing=label_smoothing)
        ref = TF.cross_entropy(torch.tensor(logits), torch.tensor(target))
        assert np.isnan(mean_loss.item()) and torch.isnan(ref)
        mean_loss.backward()
        np.testing.assert_array_equal(x.grad, np.zeros_like(logits))  # torch: zeros as well
    assert cross_entropy(Tensor(logits), target, reduction="sum").item() == 0.0


def test_cross_entropy_empty_batch_matches_torch():
    logits, target = np.zeros((0, 5), np.float32), np.zeros(0, np.int64)
    assert np.isnan(cross_entropy(Tensor(logits), target).item())
    assert cross_entropy(Tensor(logits), target, reduction="sum").item() == 0.0
    assert cross_entropy(Tensor(logits), [], reduction="none").shape == (0,)


def test_cross_entropy_extreme_logits_stay_finite_and_match_torch():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [5e3, 1e4, -1e4]], dtype=np.float32)
    target = np.array([1, 2, 0])
    x = Tensor(logits, requires_grad=True)
    loss = cross_entropy(x, target, label_smoothing=0.1)
    loss.backward()
    ref_x = torch.tensor(logits, requires_grad=True)
    ref = TF.cross_entropy(ref_x, torch.tensor(target), label_smoothing=0.1)
    ref.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=RTOL)
    np.testing.assert_allclose(x.grad, ref_x.grad.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    "target",
    [
        Tensor(np.array([3, 0, 2])),
        np.array([3, 0, 2], dtype=np.int32),
        np.array([3, 0, 2], dtype=np.uint8),
        [3, 0, 2],
    ],
    ids=["Tensor", "int32", "uint8", "list"],
)
def test_cross_entropy_accepts_integer_targets_of_any_container(target):
    logits = np.random.default_rng(4).standard_normal((3, 4)).astype(np.float32)
    expected = TF.cross_entropy(torch.tensor(logits), torch.tensor([3, 0, 2])).item()
    np.testing.assert_allclose(cross_entropy(Tensor(logits), target).item(), expected, rtol=RTOL)


def test_cross_entropy_single_example_with_python_int_target():
    logits = np.array([0.5, 2.0, -1.0], dtype=np.float32)
    loss = cross_entropy(Tensor(logits), 1, reduction="none")
    assert loss.shape == ()
    expected = TF.cross_entropy(torch.tensor(logits), torch.tensor(1), reduction="none").item()
    np.testing.assert_allclose(loss.item(), expected, rtol=RTOL)


def test_cross_entropy_loss_module_forwards_its_arguments():
    logits, target = make_case((2, 4, 7), (2, 4), ignore=True, seed=9)
    module = CrossEntropyLoss(reduction="sum", label_smoothing=0.2)
    expected = torch_cross_entropy(
        torch.tensor(logits), target, reduction="sum", label_smoothing=0.2
    )
    np.testing.assert_allclose(module(Tensor(logits), target).item(), expected.item(), rtol=RTOL)
    assert module.num_parameters() == 0
    with pytest.raises(ValueError, match="reduction"):
        CrossEntropyLoss(reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        CrossEntropyLoss(label_smoothing=2.0)


# --------------------------------------------------------------------- cross-entropy errors
@pytest.mark.parametrize(
    "target", [np.array([1.0, 2.0]), np.array([True, False]), [0.0, 1.0]], ids=str
)
def test_cross_entropy_rejects_non_integer_targets(target):
    with pytest.raises(TypeError, match="integer class ids"):
        cross_entropy(Tensor(np.zeros((2, 3))), target)


@pytest.mark.parametrize(
    ("target", "bad", "position"),
    [([0, 3, 1], "3", "position 1"), ([0, 1, -1], "-1", "position 2")],
)
def test_cross_entropy_out_of_range_target_is_index_and_value_error(target, bad, position):
    with pytest.raises(IndexOutOfRangeError) as info:
        cross_entropy(Tensor(np.zeros((3, 3))), target)
    assert isinstance(info.value, IndexError) and isinstance(info.value, ValueError)
    message = str(info.value)
    assert "out of range" in message and f"target {bad} " in message and position in message
    assert "[0, 3)" in message


def test_cross_entropy_out_of_range_reports_multi_dimensional_position():
    target = np.zeros((2, 3), dtype=np.int64)
    target[1, 2] = 9
    with pytest.raises(IndexError, match=r"target 9 at position \(1, 2\) is out of range"):
        cross_entropy(Tensor(np.zeros((2, 3, 4))), target)


def test_cross_entropy_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"target shape \(2, 3\).*logits shape \(2, 4\)"):
        cross_entropy(Tensor(np.zeros((2, 4))), np.zeros((2, 3), dtype=np.int64))
    # PyTorch's (N, C, T) layout is rejected rather than misread: classes must come last.
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(2, 5, 4\)"):
        cross_entropy(Tensor(np.zeros((2, 5, 4))), np.zeros((2, 4), dtype=np.int64))


@pytest.mark.parametrize("label_smoothing", [-0.1, 1.5])
def test_cross_entropy_rejects_label_smoothing_outside_unit_interval(label_smoothing):
    with pytest.raises(
        ValueError, match=rf"label_smoothing must be in \[0, 1\], got {label_smoothing}"
    ):
        cross_entropy(Tensor(np.zeros((2, 3))), [0, 1], label_smoothing=label_smoothing)


def test_cross_entropy_rejects_bad_reduction_and_integer_logits():
    with pytest.raises(ValueError, match="reduction must be one of"):
        cross_entropy(Tensor(np.zeros((2, 3))), [0, 1], reduction="average")
    with pytest.raises(TypeError, match="logits must be floating point"):
        cross_entropy(Tensor(np.zeros((2, 3), dtype=np.int64)), [0, 1])


# ------------------------------------------------------------------------------ mse_loss
MSE_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((5,), ())]


@pytest.mark.parametrize("shapes", MSE_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_matches_torch_and_broadcasts_without_warning(shapes, reduction):
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shapes[0]).astype(np.float32)
    b = rng.standard_normal(shapes[1]).astype(np.float32)
    x, y = Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = mse_loss(x, y, reduction=reduction)
    upstream = rng.standard_normal(loss.shape).astype(np.float32)
    loss.backward(upstream)

    ref_x, ref_y = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about broadcasting; we do not
        ref = TF.mse_loss(ref_x, ref_y, reduction=reduction)
    ref.backward(torch.tensor(upstream))

    assert loss.dtype == np.float32 and loss.shape == tuple(ref.shape)
    np.testing.assert_allclose(loss.data, ref.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(x.grad, ref_x.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(y.grad, ref_y.grad.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_gradient_matches_central_differences(reduction):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4,))
    upstream = rng.standard_normal((3, 4) if reduction == "none" else ())
    x = Tensor(a, requires_grad=True, dtype=np.float64)
    y = Tensor(b, requires_grad=True, dtype=np.float64)
    mse_loss(x, y, reduction=reduction).backward(upstream)

    def contracted() -> float:
        out = mse_loss(
            Tensor(a, dtype=np.float64), Tensor(b, dtype=np.float64), reduction=reduction
        )
        return float(np.sum(out.data * upstream))

    np.testing.assert_allclose(x.grad, numerical_gradient(contracted, a), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(y.grad, numerical_gradient(contracted, b), rtol=1e-6, atol=1e-9)


def test_mse_loss_promotes_integer_targets_and_module_form_matches():
    a = np.array([[0.5, 1.5], [2.0, -1.0]], dtype=np.float32)
    target = np.array([[1, 1], [2, 0]])
    loss = mse_loss(Tensor(a), target)
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss.item(), np.mean((a - target) ** 2), rtol=RTOL)
    assert MSELoss(reduction="sum")(Tensor(a), target).item() == pytest.approx(
        np.sum((a - target) ** 2), rel=RTOL
    )


def test_mse_loss_errors():
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(3,\).*do not broadcast"):
        mse_loss(Tensor(np.zeros((3, 4))), Tensor(np.zeros(3)))
    with pytest.raises(TypeError, match="float32.*float64"):
        mse_loss(Tensor(np.zeros(3)), Tensor(np.zeros(3), dtype=np.float64))
    with pytest.raises(ValueError, match="reduction must be one of"):
        mse_loss(Tensor(np.zeros(3)), Tensor(np.zeros(3)), reduction="avg")
    with pytest.raises(ValueError, match="reduction must be one of"):
        MSELoss(reduction="elementwise")
