"""SGD / Adam / AdamW against torch.optim trajectories, state dicts, groups, validation, XOR."""

import json

import numpy as np
import pytest
import torch

from tinytorch.core.layers import Linear, Parameter, ReLU, Sequential
from tinytorch.core.losses import mse_loss
from tinytorch.core.optimizers import SGD, Adam, AdamW, Optimizer
from tinytorch.core.random import manual_seed
from tinytorch.core.tensor import Tensor

SHAPES = [(6, 5), (5,), (2, 3, 4)]

CASES = [
    (SGD, dict(lr=0.1)),
    (SGD, dict(lr=0.05, momentum=0.9)),
    (SGD, dict(lr=0.05, momentum=0.9, dampening=0.3)),
    (SGD, dict(lr=0.05, momentum=0.8, nesterov=True)),
    (SGD, dict(lr=0.05, momentum=0.9, weight_decay=0.1)),
    (SGD, dict(lr=0.05, momentum=0.5, maximize=True)),
    (Adam, dict(lr=0.01)),
    (Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    (Adam, dict(lr=0.01, amsgrad=True)),
    (Adam, dict(lr=0.01, weight_decay=0.05, amsgrad=True, maximize=True)),
    (AdamW, dict(lr=0.01)),
    (AdamW, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
]
CASE_IDS = [f"{cls.__name__}-{kw}" for cls, kw in CASES]


def initial_values(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for shape in SHAPES]


def gradient_sequence(steps: int, seed: int = 1) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(steps)]


def run_ours(optimizer: Optimizer, params: list[Parameter], grads: list[list[np.ndarray]]):
    for step_grads in grads:
        for p, g in zip(params, step_grads, strict=True):
            p.grad = g.copy()
        optimizer.step()


def step_both(ours, reference, params, ref_params, grads) -> None:
    """Give both optimizers the same gradients, then step each once."""
    for p, r, g in zip(params, ref_params, grads, strict=True):
        p.grad, r.grad = g.copy(), torch.tensor(g)
    ours.step()
    reference.step()


@pytest.mark.parametrize(("cls", "kwargs"), CASES, ids=CASE_IDS)
def test_trajectory_matches_torch_for_100_steps(cls, kwargs):
    params = [Parameter(v) for v in initial_values()]
    arrays = [p.data for p in params]
    ref_params = [torch.tensor(v, requires_grad=True) for v in initial_values()]
    ours = cls(params, **kwargs)
    reference = getattr(torch.optim, cls.__name__)(ref_params, **kwargs)
    for step_grads in gradient_sequence(100):
        step_both(ours, reference, params, ref_params, step_grads)
        for p, r in zip(params, ref_params, strict=True):
            np.testing.assert_allclose(p.data, r.detach().numpy(), rtol=1e-4, atol=1e-6)
    for p, array in zip(params, arrays, strict=True):
        assert p.data is array, "the update must be in place"
        assert p.dtype == np.float32
    for state in ours.state.values():
        assert all(v.dtype == np.float32 for v in state.values() if isinstance(v, np.ndarray))


def test_param_groups_with_their_own_hyperparameters_match_torch():
    values = initial_values()
    params = [Parameter(v) for v in values]
    ref_params = [torch.tensor(v, requires_grad=True) for v in values]

    def groups(ps):
        return [{"params": ps[:2], "lr": 0.05, "weight_decay": 0.2}, {"params": ps[2:]}]

    ours = AdamW(groups(params), lr=0.01, betas=(0.85, 0.995))
    reference = torch.optim.AdamW(groups(ref_params), lr=0.01, betas=(0.85, 0.995))
    assert ours.param_groups[1]["lr"] == 0.01 and ours.param_groups[1]["weight_decay"] == 0.01
    for step_grads in gradient_sequence(30):
        step_both(ours, reference, params, ref_params, step_grads)
    for p, r in zip(params, ref_params, strict=True):
        np.testing.assert_allclose(p.data, r.detach().numpy(), rtol=1e-4, atol=1e-6)


def test_changing_a_group_lr_between_steps_takes_effect_like_torch():
    value = initial_values()[0]
    p, r = Parameter(value), torch.tensor(value, requires_grad=True)
    ours, reference = Adam([p], lr=0.1), torch.optim.Adam([r], lr=0.1)
    for i, step_grads in enumerate(gradient_sequence(10)):
        ours.param_groups[0]["lr"] = reference.param_groups[0]["lr"] = 0.1 / (i + 1)
        p.grad, r.grad = step_grads[0].copy(), torch.tensor(step_grads[0])
        ours.step()
        reference.step()
    np.testing.assert_allclose(p.data, r.detach().numpy(), rtol=1e-4, atol=1e-6)


def test_parameters_without_gradient_are_left_alone():
    a, b = Parameter(np.ones(3, np.float32)), Parameter(np.ones(3, np.float32))
    optimizer = Adam([a, b], lr=0.1)
    a.grad = np.ones(3, np.float32)
    optimizer.step()
    assert np.all(a.data < 1) and np.array_equal(b.data, np.ones(3)) and b not in optimizer.state


def test_gradients_are_not_modified_by_the_step():
    p = Parameter(np.ones(4, np.float32))
    grad = np.arange(4, dtype=np.float32)
    p.grad = grad
    for optimizer in (SGD([p], lr=0.1, weight_decay=0.1, maximize=True), Adam([p], weight_decay=1)):
        optimizer.step()
        np.testing.assert_array_equal(grad, np.arange(4))


def test_zero_grad_sets_none_or_fresh_zeros():
    p = Parameter(np.ones(3, np.float32))
    grad = np.full(3, 2.0, np.float32)
    p.grad = grad
    optimizer = SGD([p], lr=0.1)
    optimizer.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad, np.zeros(3))
    np.testing.assert_array_equal(grad, np.full(3, 2.0))  # a new array: aliases are untouched
    optimizer.zero_grad()
    assert p.grad is None


def test_step_runs_the_closure_and_returns_its_loss():
    p = Parameter(np.array([3.0], np.float32))
    optimizer = SGD([p], lr=0.25)

    def closure() -> float:
        optimizer.zero_grad()
        loss = (p * p).sum()  # d/dp p^2 = 2p
        loss.backward()
        return loss.item()

    assert optimizer.step(closure) == 9.0
    np.testing.assert_allclose(p.data, [1.5])


# ------------------------------------------------------------------------------ state dicts
@pytest.mark.parametrize(("cls", "kwargs"), CASES, ids=CASE_IDS)
def test_state_dict_round_trip_through_json_continues_bit_identically(cls, kwargs):
    grads = gradient_sequence(20)
    params = [Parameter(v) for v in initial_values()]
    optimizer = cls(params, **kwargs)
    run_ours(optimizer, params, grads[:10])
    saved_params = [p.data.copy() for p in params]
    state = optimizer.state_dict()

    as_json = json.dumps(
        {
            "state": {
                k: {n: np.asarray(v).tolist() for n, v in s.items()}
                for k, s in state["state"].items()
            },
            "param_groups": state["param_groups"],
        }
    )
    run_ours(optimizer, params, grads[10:])

    resumed_params = [Parameter(v) for v in saved_params]
    resumed = cls(resumed_params, lr=123.0)  # hyperparameters come from the state dict
    resumed.load_state_dict(json.loads(as_json))
    assert resumed.param_groups[0]["lr"] == kwargs["lr"]
    run_ours(resumed, resumed_params, grads[10:])
    for p, q in zip(params, resumed_params, strict=True):
        np.testing.assert_array_equal(p.data, q.data)
        assert q.dtype == np.float32


def test_state_dict_holds_plain_data_indexed_like_torch():
    params = [Parameter(v) for v in initial_values()]
    optimizer = Adam([{"params": params[:1]}, {"params": params[1:], "lr": 0.5}], amsgrad=True)
    run_ours(optimizer, params, gradient_sequence(2))
    state = optimizer.state_dict()
    assert [g["params"] for g in state["param_groups"]] == [[0], [1, 2]]
    assert state["param_groups"][1]["lr"] == 0.5
    assert sorted(state["state"]) == [0, 1, 2]
    assert state["state"][1]["step"] == 2
    assert set(state["state"][1]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    state["state"][0]["exp_avg"][...] = 99.0  # a snapshot: the optimizer keeps its own arrays
    assert not np.any(optimizer.state[params[0]]["exp_avg"] == 99.0)


def _trained_adam() -> tuple[Adam, list[Parameter]]:
    params = [Parameter(v) for v in initial_values()]
    optimizer = Adam(params, lr=0.01)
    run_ours(optimizer, params, gradient_sequence(3))
    return optimizer, params


@pytest.mark.parametrize(
    ("corrupt", "error", "message"),
    [
        (
            lambda s: s["state"][2].update(exp_avg=np.zeros((4, 3, 2))),
            ValueError,
            r"'exp_avg' of parameter 2 has shape \(4, 3, 2\), the parameter has shape \(2, 3, 4\)",
        ),
        (
            lambda s: s["state"][0].update(momentum=np.zeros((6, 5))),
            ValueError,
            "unknown state 'momentum'",
        ),
        (lambda s: s["state"][1].update(step=-1), ValueError, "non-negative integer"),
        (lambda s: s["state"].update({7: {"step": 1}}), ValueError, "parameter index 7"),
        (
            lambda s: s["param_groups"].append(dict(s["param_groups"][0])),
            ValueError,
            "2 param groups, optimizer has 1",
        ),
        (lambda s: s["param_groups"][0].pop("eps"), ValueError, "hyperparameters differ"),
        (lambda s: s["param_groups"][0].update(lr=-1.0), ValueError, "lr must be a non-negative"),
        (
            lambda s: s["state"][0].update(exp_avg=np.zeros((6, 5), np.int64)),
            TypeError,
            "must be floating point",
        ),
        (
            lambda s: s["state"][1].pop("exp_avg_sq"),
            ValueError,
            r"state of parameter 1 lacks \['exp_avg_sq'\]",
        ),
    ],
    ids=["shape", "unknown-state", "step", "index", "groups", "keys", "lr", "dtype", "missing"],
)
def test_bad_state_dict_raises_clearly_and_changes_nothing(corrupt, error, message):
    optimizer, _ = _trained_adam()
    before = optimizer.state_dict()
    state = optimizer.state_dict()
    state["state"][0]["step"] = 100
    state["param_groups"][0]["lr"] = 0.5  # valid changes that must not be applied either
    corrupt(state)
    with pytest.raises(error, match=message):
        optimizer.load_state_dict(state)
    after = optimizer.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for index, entries in before["state"].items():
        for name, value in entries.items():
            np.testing.assert_array_equal(after["state"][index][name], value)


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: SGD(p, lr=-0.1), "lr must be a non-negative number, got -0.1"),
        (lambda p: SGD(p, lr=0.1, momentum=-1), "momentum must be a non-negative"),
        (lambda p: SGD(p, lr=0.1, nesterov=True), "Nesterov momentum requires momentum > 0"),
        (lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "dampening = 0"),
        (lambda p: Adam(p, betas=(0.9, 1.0)), r"betas must be two numbers in \[0, 1\)"),
        (lambda p: Adam(p, eps=-1e-8), "eps must be a non-negative"),
        (lambda p: AdamW(p, weight_decay=-0.1), "weight_decay must be a non-negative"),
        (lambda p: Adam([{"params": p, "lr": float("nan")}]), "lr must be a non-negative"),
        (
            lambda p: Adam([{"params": p, "momentum": 0.9}]),
            r"unknown hyperparameters \['momentum'\]",
        ),
        (lambda p: SGD([], lr=0.1), "empty parameter list"),
        (lambda p: SGD([p[0], p[0]], lr=0.1), "more than once"),
        (lambda p: SGD([p[0] * 2], lr=0.1), "leaf"),
    ],
)
def test_invalid_arguments_raise_value_error(make, message):
    params = [Parameter(np.ones(3, np.float32), requires_grad=True)]
    with pytest.raises(ValueError, match=message):
        make(params)


def test_non_tensor_params_raise_type_error():
    with pytest.raises(TypeError, match="single Parameter"):
        SGD(Parameter(np.ones(3)), lr=0.1)
    with pytest.raises(TypeError, match="must be Tensors, got ndarray"):
        SGD([np.ones(3)], lr=0.1)


def test_gradient_of_the_wrong_shape_is_rejected():
    p = Parameter(np.ones(3, np.float32))
    p.grad = np.ones(4, np.float32)
    with pytest.raises(ValueError, match=r"gradient of shape \(4,\).*shape \(3,\)"):
        SGD([p], lr=0.1).step()


# ------------------------------------------------------------------------------ end to end
def test_mlp_learns_xor_with_adam():
    manual_seed(0)
    model = Sequential(Linear(2, 16), ReLU(), Linear(16, 1))
    optimizer = Adam(model.parameters(), lr=0.03)
    x = Tensor(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32))
    y = Tensor(np.array([[0], [1], [1], [0]], np.float32))
    for _ in range(200):
        optimizer.zero_grad()
        loss = mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.01
    np.testing.assert_array_equal(np.round(model(x).data), y.data)
    assert all(p.dtype == np.float32 for p in model.parameters())
