"""`--time-budget`: the plan follows the measured speed, and a budget run ends with a checkpoint.

The planning arithmetic is checked with made-up clock readings; the command-line tests run real
budgets of a few seconds and assert no tight wall-clock numbers, only a generous upper bound.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tinytorch.core.optimizers import SGD, WarmupCosineSchedule
from tinytorch.core.tensor import Tensor
from tinytorch.time_budget import EVAL_COST_PER_TRAIN_TOKEN, TimeBudget


def _budget(**changes: float) -> TimeBudget:
    values = dict(
        minutes=1.0, seconds_used_before=0.0, started=0.0, step=0, tokens_per_step=100,
        final_eval_tokens=400,
    )  # fmt: skip
    values.update(changes)
    return TimeBudget(**values)


def test_the_plan_fills_the_time_left_at_the_measured_speed_keeping_the_final_evaluation() -> None:
    budget = _budget()
    budget.start_training(step=0, now=2.0)  # 2 s of setup
    assert budget.planned_steps(0, 2.0) is None  # no step timed yet: keep the first plan
    # 10 steps in 10 s; before any evaluation, scoring a token costs half a training token
    final_eval = EVAL_COST_PER_TRAIN_TOKEN * 1.0 / 100 * 400
    assert budget.planned_steps(10, 12.0) == 10 + int((60 - 12 - final_eval) / 1.0)
    budget.timed_evaluation(seconds=1.0, tokens=100)  # measured: 0.01 s per token -> 4 s
    assert budget.planned_steps(10, 12.0) == 10 + (60 - 12 - 4)
    assert budget.planned_steps(20, 32.0) == 20 + int((60 - 32 - 4) / 1.5)  # slower now
    assert budget.planned_steps(50, 58.0) == 50  # time is up: end here
    assert budget.planned_steps(60, 75.0) == 60


def test_a_resumed_budget_plans_the_rest_from_the_earlier_speed_until_it_measures_its_own() -> None:
    budget = _budget(seconds_used_before=30.0, started=100.0, step=20)  # 1.5 s per step so far
    budget.start_training(step=20, now=101.0)
    final_eval = EVAL_COST_PER_TRAIN_TOKEN * 1.5 / 100 * 400
    assert budget.seconds_used(101.0) == 31.0
    assert budget.planned_steps(20, 101.0) == 20 + int((60 - 31 - final_eval) / 1.5)
    assert budget.planned_steps(30, 106.0) == 30 + int((60 - 36 - final_eval / 3) / 0.5)


def test_a_re_planned_schedule_gives_the_lrs_of_one_planned_that_way_from_the_start() -> None:
    def schedule(warmup: int, total: int) -> WarmupCosineSchedule:
        return WarmupCosineSchedule(SGD([Tensor(np.zeros(2))], lr=1.0), warmup, total, 0.1)

    moved, fresh = schedule(5, 100), schedule(4, 40)
    for _ in range(7):
        moved.step()
        fresh.step()
    moved.set_total_steps(40, 4)
    assert moved.optimizer.param_groups[0]["lr"] == fresh.optimizer.param_groups[0]["lr"]
    for _ in range(40):
        assert moved.get_lr() == fresh.get_lr()
        moved.step()
        fresh.step()
    with pytest.raises(ValueError, match=r"warmup_steps \(4\) must not exceed total_steps \(3\)"):
        moved.set_total_steps(3, 4)
    with pytest.raises(ValueError, match="warmup_steps must be a non-negative integer, got 2.5"):
        moved.set_total_steps(40, 2.5)
    # A run without warmup (--warmup-steps 0) can be re-planned too, as its constructor allows.
    unwarmed, fresh = schedule(0, 100), schedule(0, 40)
    unwarmed.set_total_steps(40, 0)
    assert [unwarmed.lr_at(s, 1.0) for s in range(41)] == [fresh.lr_at(s, 1.0) for s in range(41)]


BUDGET_MINUTES = 0.15  # 9 s: under heavy load the setup alone can take 5


def test_a_budget_run_ends_on_time_with_a_complete_checkpoint_and_resumes_with_more(
    tmp_path: Path, cli, train_test_run, metrics
) -> None:
    clock = time.perf_counter()
    result = train_test_run(tmp_path, "--time-budget", str(BUDGET_MINUTES))
    assert time.perf_counter() - clock < 60  # generous: a budget that is ignored runs for ever
    config = json.loads((tmp_path / "config.json").read_text())["train"]
    state = json.loads((tmp_path / "trainer_state.json").read_text())
    records = metrics(tmp_path)
    assert config["time_budget"] == BUDGET_MINUTES
    # the budget planned the steps (the test preset's own plan is 6) and the run completed them
    assert config["steps"] > 6
    assert state["step"] == config["steps"] == records[-1]["step"]
    assert "val_tokens" in records[-1]  # ended with the full evaluation
    assert f"{BUDGET_MINUTES:g}-minute time budget" in result.out

    cli("train", "--out", str(tmp_path), "--resume").assert_error(
        f"already at step {state['step']}", "pass --time-budget a larger number"
    )
    cli("train", "--out", str(tmp_path), "--resume", "--steps", "1000").assert_error(
        "--steps cannot be used with --time-budget 0.15", "raise --time-budget"
    )
    resumed = cli("train", "--out", str(tmp_path), "--resume", "--time-budget", "0.2")
    assert resumed.code == 0, resumed.err
    assert f"resuming {tmp_path} at step {state['step']}" in resumed.out
    again = json.loads((tmp_path / "trainer_state.json").read_text())
    assert again["step"] > state["step"] and again["seconds"] > state["seconds"]
    assert json.loads((tmp_path / "config.json").read_text())["train"]["time_budget"] == 0.2


def test_steps_and_a_time_budget_together_are_refused(tmp_path: Path, cli) -> None:
    cli(
        "train", "--preset", "test", "--steps", "5", "--time-budget", "1", "--out", str(tmp_path)
    ).assert_error("--steps cannot be used with --time-budget 1", "pass one of them")
    assert not tmp_path.joinpath("config.json").exists()
