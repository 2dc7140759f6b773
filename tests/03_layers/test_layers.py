"""Layers and Module against PyTorch (same weights), central differences, and Module bookkeeping."""

import numpy as np
import pytest
import torch

from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import (
    GELU,
    Dropout,
    LayerNorm,
    Linear,
    Module,
    ModuleList,
    Parameter,
    ReLU,
    Sequential,
)
from tinytorch.core.random import manual_seed
from tinytorch.core.tensor import Tensor
from tinytorch.testing import numerical_gradient

RTOL, ATOL = 1e-4, 1e-5


def copy_into_torch(module: Module, reference: torch.nn.Module) -> None:
    """Load our state dict into the PyTorch module by name (strict: every name must match)."""
    reference.load_state_dict({k: torch.tensor(v) for k, v in module.state_dict().items()})


def run_both(module: Module, reference: torch.nn.Module, x: np.ndarray, seed: int = 0):
    """Forward + backward with the same upstream gradient through both; returns both inputs."""
    ours_x = Tensor(x, requires_grad=True)
    out = module(ours_x)
    upstream = np.random.default_rng(seed).standard_normal(out.shape).astype(np.float32)
    out.backward(upstream)
    ref_x = torch.tensor(x, requires_grad=True)
    ref_out = reference(ref_x)
    ref_out.backward(torch.tensor(upstream))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, ref_out.detach().numpy(), rtol=RTOL, atol=ATOL)
    return ours_x, ref_x


def assert_same_gradients(module: Module, reference: torch.nn.Module) -> None:
    ref_params = dict(reference.named_parameters())
    names = [name for name, _ in module.named_parameters()]
    assert names == list(ref_params)
    for name, param in module.named_parameters():
        assert param.grad is not None and param.grad.dtype == np.float32, name
        np.testing.assert_allclose(
            param.grad, ref_params[name].grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=name
        )


def random_input(shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def check_module_gradients(module: Module, x: np.ndarray, seed: int = 0) -> None:
    """Central differences (float64) for the input and every parameter of `module`."""
    module.to(np.float64)
    x = x.astype(np.float64)
    ours_x = Tensor(x, requires_grad=True, dtype=np.float64)
    out = module(ours_x)
    assert out.dtype == np.float64
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(upstream)

    def contracted() -> float:
        with no_grad():
            return float(np.sum(module(Tensor(x, dtype=np.float64)).data * upstream))

    np.testing.assert_allclose(ours_x.grad, numerical_gradient(contracted, x), rtol=1e-5, atol=1e-8)
    for name, param in module.named_parameters():
        expected = numerical_gradient(contracted, param.data)
        np.testing.assert_allclose(param.grad, expected, rtol=1e-5, atol=1e-8, err_msg=name)


# ----------------------------------------------------------------------------------- Linear
@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 3), (3,)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(shape, bias):
    manual_seed(0)
    layer = Linear(3, 6, bias=bias)
    reference = torch.nn.Linear(3, 6, bias=bias)
    copy_into_torch(layer, reference)
    ours_x, ref_x = run_both(layer, reference, random_input(shape))
    np.testing.assert_allclose(ours_x.grad, ref_x.grad.numpy(), rtol=RTOL, atol=ATOL)
    assert_same_gradients(layer, reference)


def test_linear_initialisation_follows_torch_bounds():
    manual_seed(0)
    layer = Linear(16, 300)
    bound = 1 / np.sqrt(16)
    for param in (layer.weight, layer.bias):
        assert param.dtype == np.float32
        assert np.abs(param.data).max() <= bound and np.abs(param.data).max() > 0.9 * bound
    assert layer.weight.shape == (300, 16) and layer.bias.shape == (300,)


def test_linear_gradient_matches_central_differences():
    manual_seed(1)
    check_module_gradients(Linear(3, 4), random_input((2, 3, 3)))


def test_linear_rejects_wrong_feature_count_and_bad_sizes():
    with pytest.raises(ValueError, match=r"input has 5 features.*expects 3"):
        Linear(3, 2)(Tensor(np.zeros((2, 5))))
    with pytest.raises(ValueError, match="in_features must be a positive integer, got 0"):
        Linear(0, 2)


# -------------------------------------------------------------------------------- LayerNorm
LAYER_NORM_CASES = [
    (6, (4, 6), dict()),
    (6, (2, 3, 6), dict()),
    ((3, 4), (2, 3, 4), dict()),
    (6, (2, 3, 6), dict(elementwise_affine=False)),
    ((3, 4), (2, 3, 4), dict(bias=False)),
]


@pytest.mark.parametrize(("normalized_shape", "shape", "kwargs"), LAYER_NORM_CASES, ids=str)
def test_layer_norm_matches_torch(normalized_shape, shape, kwargs):
    layer = LayerNorm(normalized_shape, **kwargs)
    rng = np.random.default_rng(2)
    for param in layer.parameters():  # not the trivial ones/zeros, so the affine part is tested
        param.data[...] = rng.standard_normal(param.shape)
    reference = torch.nn.LayerNorm(normalized_shape, **kwargs)
    copy_into_torch(layer, reference)
    ours_x, ref_x = run_both(layer, reference, random_input(shape) * 3 + 1)
    np.testing.assert_allclose(ours_x.grad, ref_x.grad.numpy(), rtol=RTOL, atol=ATOL)
    assert_same_gradients(layer, reference)


@pytest.mark.parametrize("normalized_shape", [5, (2, 5)])
def test_layer_norm_gradient_matches_central_differences(normalized_shape):
    layer = LayerNorm(normalized_shape)
    rng = np.random.default_rng(3)
    for param in layer.parameters():
        param.data[...] = rng.standard_normal(param.shape)
    check_module_gradients(layer, random_input((3, 2, 5)))


def test_layer_norm_rejects_mismatched_input_and_bad_arguments():
    with pytest.raises(ValueError, match=r"input shape \(2, 4\) does not end with \(5,\)"):
        LayerNorm(5)(Tensor(np.zeros((2, 4))))
    with pytest.raises(ValueError, match="eps must be positive"):
        LayerNorm(5, eps=0.0)
    with pytest.raises(ValueError, match=r"normalized_shape\[1\] must be a positive integer"):
        LayerNorm((3, 0))


# ---------------------------------------------------------------------------------- Dropout
def test_dropout_in_eval_mode_is_the_identity_with_identity_gradient():
    layer = Dropout(0.5).eval()
    x = Tensor(random_input((4, 5)), requires_grad=True)
    out = layer(x)
    np.testing.assert_array_equal(out.data, x.data)
    out.backward(np.full((4, 5), 2.0, np.float32))
    np.testing.assert_array_equal(x.grad, np.full((4, 5), 2.0))


def test_dropout_in_train_mode_zeroes_about_p_and_scales_survivors():
    manual_seed(0)
    p = 0.3
    x = Tensor(random_input((200, 100)), requires_grad=True)
    out = Dropout(p)(x)
    kept = out.data != 0
    assert abs(1 - kept.mean() - p) < 0.01
    np.testing.assert_allclose(out.data[kept], x.data[kept] / (1 - p), rtol=1e-6)
    upstream = random_input((200, 100), seed=5)
    out.backward(upstream)
    expected = np.where(kept, upstream / (1 - p), 0.0)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-6)
    assert out.dtype == np.float32 and x.grad.dtype == np.float32


def test_dropout_is_deterministic_under_manual_seed():
    x = Tensor(np.ones((8, 8), np.float32))
    layer = Dropout(0.5)
    manual_seed(42)
    first, second = layer(x).data, layer(x).data
    manual_seed(42)
    np.testing.assert_array_equal(layer(x).data, first)
    assert not np.array_equal(first, second)  # consecutive calls draw fresh masks


def test_dropout_edge_probabilities_and_validation():
    x = Tensor(random_input((3, 4)), requires_grad=True)
    np.testing.assert_array_equal(Dropout(0.0)(x).data, x.data)
    out = Dropout(1.0)(x)
    np.testing.assert_array_equal(out.data, np.zeros((3, 4)))
    out.backward(np.ones((3, 4), np.float32))
    np.testing.assert_array_equal(x.grad, np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\], got 1.5"):
        Dropout(1.5)


# ------------------------------------------------------------------------------ activations
@pytest.mark.parametrize(
    ("ours", "reference"),
    [
        (ReLU(), torch.nn.ReLU()),
        (GELU(), torch.nn.GELU()),
        (GELU("tanh"), torch.nn.GELU(approximate="tanh")),
    ],
    ids=["relu", "gelu", "gelu-tanh"],
)
@pytest.mark.parametrize("shape", [(7,), (3, 4, 5)], ids=str)
def test_activations_match_torch(ours, reference, shape):
    ours_x, ref_x = run_both(ours, reference, random_input(shape) * 3)
    np.testing.assert_allclose(ours_x.grad, ref_x.grad.numpy(), rtol=RTOL, atol=ATOL)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh', got 'fast'"):
        GELU("fast")


# ------------------------------------------------------------------- containers and naming
def build_pair() -> tuple[Module, torch.nn.Module]:
    """The same network in both libraries: Linear, GELU, LayerNorm, Dropout, Linear."""
    manual_seed(3)
    ours = Sequential(Linear(4, 8), GELU(), LayerNorm(8), Dropout(0.1), Linear(8, 3))
    reference = torch.nn.Sequential(
        torch.nn.Linear(4, 8),
        torch.nn.GELU(),
        torch.nn.LayerNorm(8),
        torch.nn.Dropout(0.1),
        torch.nn.Linear(8, 3),
    )
    copy_into_torch(ours, reference)
    return ours, reference


def test_sequential_state_dict_loads_into_torch_and_matches_in_eval_mode():
    ours, reference = build_pair()
    assert list(ours.state_dict()) == list(reference.state_dict())
    ours.eval()
    reference.eval()
    ours_x, ref_x = run_both(ours, reference, random_input((5, 4)))
    np.testing.assert_allclose(ours_x.grad, ref_x.grad.numpy(), rtol=RTOL, atol=ATOL)
    assert_same_gradients(ours, reference)
    assert len(ours) == 5 and isinstance(ours[4], Linear) and isinstance(ours[-1], Linear)


class Stack(Module):
    """A nested model: an embedding-free MLP stack with a ModuleList, like a transformer."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = ModuleList(Sequential(Linear(4, 4), ReLU()) for _ in range(2))
        self.norm = LayerNorm(4)
        self.head = Linear(4, 2, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


class TorchStack(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = torch.nn.ModuleList(
            torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()) for _ in range(2)
        )
        self.norm = torch.nn.LayerNorm(4)
        self.head = torch.nn.Linear(4, 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def test_nested_module_names_follow_torch_and_gradients_match():
    manual_seed(4)
    ours, reference = Stack(), TorchStack()
    copy_into_torch(ours, reference)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in reference.named_parameters()]
    assert "blocks.1.0.weight" in ours.state_dict()
    ours_x, ref_x = run_both(ours, reference, random_input((3, 4)))
    np.testing.assert_allclose(ours_x.grad, ref_x.grad.numpy(), rtol=RTOL, atol=ATOL)
    assert_same_gradients(ours, reference)
    assert len(ours.blocks) == 2 and ours.num_parameters() == 2 * 20 + 8 + 8


class Tied(Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = Linear(3, 3, bias=False)
        self.decoder = Linear(3, 3, bias=False)
        self.decoder.weight = self.encoder.weight


def test_tied_weights_appear_once_in_parameters_but_under_every_name_in_state_dict():
    model = Tied()
    assert [n for n, _ in model.named_parameters()] == ["encoder.weight"]
    assert len(list(model.parameters())) == 1 and model.num_parameters() == 9
    state = model.state_dict()
    assert list(state) == ["encoder.weight", "decoder.weight"]
    state["decoder.weight"][...] = 7.0  # a copy: the model is untouched
    assert not np.any(model.encoder.weight.data == 7.0)
    model.load_state_dict({k: np.full((3, 3), 2.0, np.float32) for k in state})
    assert model.decoder.weight is model.encoder.weight
    np.testing.assert_array_equal(model.decoder.weight.data, np.full((3, 3), 2.0))


# --------------------------------------------------------------------------- load_state_dict
def test_strict_load_reports_missing_and_unexpected_keys_and_changes_nothing():
    ours, _ = build_pair()
    before = ours.state_dict()
    state = {k: np.zeros_like(v) for k, v in before.items()}
    del state["0.bias"]
    state["5.weight"] = np.zeros((3, 3), np.float32)
    with pytest.raises(
        KeyError, match=r"missing keys \['0.bias'\].*unexpected keys \['5.weight'\]"
    ):
        ours.load_state_dict(state)
    for name, value in ours.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_misshaped_load_names_the_key_and_changes_nothing():
    ours, _ = build_pair()
    before = ours.state_dict()
    state = {k: np.zeros_like(v) for k, v in before.items()}
    state["4.weight"] = np.zeros((8, 3), np.float32)  # transposed: the last key to be checked
    with pytest.raises(ValueError, match=r"'4.weight'.*\(8, 3\).*\(3, 8\)"):
        ours.load_state_dict(state)
    for name, value in ours.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_non_strict_load_fills_what_it_can_in_place():
    ours, _ = build_pair()
    weight = ours[0].weight
    ours.load_state_dict({"0.weight": np.ones((8, 4), np.float32)}, strict=False)
    assert ours[0].weight is weight
    np.testing.assert_array_equal(weight.data, np.ones((8, 4)))


# ------------------------------------------------------------------- modes and bookkeeping
def test_train_and_eval_recurse_into_every_submodule():
    model = Stack()
    assert model.eval() is model
    assert all(not m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    assert sum(1 for _ in model.modules()) == 1 + 1 + 2 * 3 + 2


def test_zero_grad_clears_every_parameter_gradient():
    model = Stack()
    model(Tensor(random_input((2, 4)))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_module_subclass_must_call_base_init_and_parameters_must_be_float():
    class Broken(Module):
        def __init__(self) -> None:
            self.weight = Parameter(np.zeros(3))

    with pytest.raises(RuntimeError, match=r"must call super\(\).__init__\(\)"):
        Broken()
    with pytest.raises(TypeError, match="floating"):
        Parameter(np.zeros(3, dtype=np.int64))


def test_buffers_persist_in_state_dict_stay_registered_when_reassigned_and_follow_to():
    model = Module()
    model.register_buffer("table", np.arange(3, dtype=np.float32))
    model.register_buffer("cache", np.zeros(2, np.float32), persistent=False)
    assert list(model.state_dict()) == ["table"]
    model.table = Tensor(np.ones(3, np.float32))  # like PyTorch: still a buffer
    np.testing.assert_array_equal(model.state_dict()["table"], np.ones(3))
    model.load_state_dict({"table": np.full(3, 5.0, np.float32)})
    np.testing.assert_array_equal(model.table.data, np.full(3, 5.0))
    model.to(np.float64)
    assert model.table.dtype == np.float64 and model.cache.dtype == np.float64
