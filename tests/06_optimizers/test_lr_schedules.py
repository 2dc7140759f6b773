"""Learning-rate schedules: known values, effect on the optimizer, state dicts, validation."""

import math

import numpy as np
import pytest
import torch

from tinytorch.core.layers import Parameter
from tinytorch.core.optimizers import SGD, LambdaLR, WarmupCosineSchedule


def two_group_sgd(lrs=(1.0, 0.5)) -> SGD:
    groups = [{"params": [Parameter(np.zeros(2, np.float32))], "lr": lr} for lr in lrs]
    return SGD(groups, lr=0.1)


def advance(schedule, steps: int) -> None:
    for _ in range(steps):
        schedule.step()


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        (0, 0.0),
        (5, 0.5),
        (10, 1.0),
        (35, 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 4))),
        (60, 0.55),
        (110, 0.1),
        (500, 0.1),
    ],
)
def test_warmup_cosine_values_at_known_steps(step, expected):
    optimizer = two_group_sgd((1.0, 2.0))
    schedule = WarmupCosineSchedule(optimizer, warmup_steps=10, total_steps=110, min_lr=0.1)
    advance(schedule, step)
    assert schedule.last_step == step
    assert schedule.get_lr()[0] == pytest.approx(expected, abs=1e-12)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(expected, abs=1e-12)
    # the second group decays from its own base lr to the same floor
    second = 2.0 * step / 10 if step < 10 else expected + (expected - 0.1) * (2.0 - 1.0) / 0.9
    assert optimizer.param_groups[1]["lr"] == pytest.approx(second, abs=1e-12)


def test_schedule_drives_the_optimizer_step_size():
    param = Parameter(np.zeros(1, np.float32))
    optimizer = SGD([param], lr=1.0)
    schedule = WarmupCosineSchedule(optimizer, warmup_steps=4, total_steps=8)
    moves = []
    for _ in range(8):
        before = param.data.copy()
        param.grad = np.ones(1, np.float32)
        optimizer.step()
        schedule.step()
        moves.append(float(before[0] - param.data[0]))
    np.testing.assert_allclose(moves[:5], [0.0, 0.25, 0.5, 0.75, 1.0], atol=1e-7)
    assert moves[5] > moves[6] > moves[7] > 0


def test_without_warmup_it_starts_at_the_base_lr_and_warmup_may_fill_everything():
    optimizer = two_group_sgd()
    assert WarmupCosineSchedule(optimizer, 0, 10).get_lr() == [1.0, 0.5]
    optimizer = two_group_sgd()
    schedule = WarmupCosineSchedule(optimizer, warmup_steps=10, total_steps=10)
    advance(schedule, 10)
    assert schedule.get_lr() == [1.0, 0.5]
    schedule.step()
    assert schedule.get_lr() == [0.0, 0.0]


def test_state_dict_resumes_the_schedule():
    optimizer = two_group_sgd()
    schedule = WarmupCosineSchedule(optimizer, warmup_steps=3, total_steps=20, min_lr=0.01)
    advance(schedule, 7)
    state = schedule.state_dict()
    assert state == {"last_step": 7, "base_lrs": [1.0, 0.5]}

    resumed_optimizer = two_group_sgd((9.0, 9.0))  # lrs are overwritten from the saved base lrs
    resumed = WarmupCosineSchedule(resumed_optimizer, warmup_steps=3, total_steps=20, min_lr=0.01)
    resumed.load_state_dict(state)
    assert [g["lr"] for g in resumed_optimizer.param_groups] == schedule.get_lr()
    advance(schedule, 5)
    advance(resumed, 5)
    assert resumed.get_lr() == schedule.get_lr()
    with pytest.raises(ValueError, match="1 base lrs, the optimizer has 2 param groups"):
        resumed.load_state_dict({"last_step": 1, "base_lrs": [1.0]})
    with pytest.raises(ValueError, match="last_step must be a non-negative integer"):
        resumed.load_state_dict({"last_step": -2, "base_lrs": [1.0, 1.0]})


def test_lambda_lr_matches_torch():
    def decay(step: int) -> float:
        return 0.9**step

    optimizer = two_group_sgd()
    schedule = LambdaLR(optimizer, decay)
    reference_params = [torch.zeros(2, requires_grad=True) for _ in range(2)]
    reference_optimizer = torch.optim.SGD(
        [{"params": [p], "lr": lr} for p, lr in zip(reference_params, (1.0, 0.5), strict=True)]
    )
    reference = torch.optim.lr_scheduler.LambdaLR(reference_optimizer, decay)
    for _ in range(5):
        reference_optimizer.step()
        reference.step()
        schedule.step()
        np.testing.assert_allclose(schedule.get_lr(), reference.get_last_lr(), rtol=1e-12)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((5, 4), r"warmup_steps \(5\) must not exceed total_steps \(4\)"),
        ((0, 0), "total_steps must be positive"),
        ((-1, 4), "warmup_steps must be a non-negative integer, got -1"),
        ((1, 2.5), "total_steps must be a non-negative integer, got 2.5"),
        ((1, 4, 0.7), r"min_lr must be in \[0, smallest base lr 0.5\], got 0.7"),
        ((1, 4, -0.1), "min_lr must be in"),
    ],
)
def test_warmup_cosine_validates_its_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        WarmupCosineSchedule(two_group_sgd(), *args)


def test_schedule_notices_param_groups_added_later():
    optimizer = two_group_sgd()
    schedule = WarmupCosineSchedule(optimizer, 2, 10)
    optimizer.add_param_group({"params": [Parameter(np.zeros(1, np.float32))]})
    with pytest.raises(RuntimeError, match="3 param groups but the schedule was created for 2"):
        schedule.step()
    with pytest.raises(TypeError, match="lr_lambda must be callable"):
        LambdaLR(optimizer, 0.5)
