"""`--time-budget MINUTES`: how many steps a run can take so that its schedule ends on time.

The cosine schedule needs its total number of steps in advance, but how many steps fit in some
minutes depends on the machine and on whatever else runs on it. So a budget run re-plans after
every step: total = steps done + (time left - time the final evaluation needs) / seconds per step
so far (evaluations and checkpoints included). The trainer moves the schedule's end (and the
`steps` saved in config.json with every checkpoint) to the plan; when the time is up the plan is
the current step, and the run ends there with its full evaluation and a checkpoint.

Time counts from the start of the command (preparing the data included) and adds up over
resumed sessions: trainer_state.json keeps the seconds used, so a budget run interrupted with
Ctrl-C and resumed trains for the rest of its budget, and one resumed with a larger
--time-budget for the difference (its schedule stretches, as with a raised --steps). The samples
printed at the end come after the deadline (a few seconds). A budget run's step count depends on
the machine's speed, so unlike a run of fixed --steps it is not reproducible bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tinytorch.train_config import TrainConfig

# Before an evaluation has been timed, scoring one target is taken to cost this fraction of
# training one token (a forward pass without backward or update is about a third; this is safe).
EVAL_COST_PER_TRAIN_TOKEN = 0.5


class TimeBudget:
    """The deadline of one run and the speed measurements it is planned from."""

    def __init__(
        self,
        minutes: float,
        seconds_used_before: float,
        started: float,
        step: int,
        tokens_per_step: int,
        final_eval_tokens: int,
    ) -> None:
        """`started`: time.perf_counter() when this session began; `step`: the step it resumes
        from (0 for a new run); `final_eval_tokens`: tokens the last evaluation reads."""
        self.seconds = minutes * 60.0
        self.seconds_used_before = seconds_used_before
        self.started = started
        self.tokens_per_step = tokens_per_step
        self.final_eval_tokens = final_eval_tokens
        self._eval_seconds_per_token: float | None = None
        self._clock: tuple[int, float] | None = None  # (step, time) when this session's steps began
        # Until this session has timed a step, an earlier session's average speed stands in.
        self._earlier_seconds_per_step = seconds_used_before / step if step else None

    def seconds_used(self, now: float) -> float:
        return self.seconds_used_before + (now - self.started)

    def start_training(self, step: int, now: float) -> None:
        self._clock = (step, now)

    def timed_evaluation(self, seconds: float, tokens: int) -> None:
        """An evaluation that read `tokens` tokens took `seconds`."""
        self._eval_seconds_per_token = seconds / max(tokens, 1)

    def planned_steps(self, step: int, now: float) -> int | None:
        """The run's total number of steps: `step`, plus as many more as fit in the time left
        (None before any step has been timed)."""
        seconds_per_step = self._seconds_per_step(step, now)
        if seconds_per_step is None:
            return None
        left = self.seconds - self.seconds_used(now) - self._final_eval_seconds(seconds_per_step)
        return step + max(0, math.floor(left / seconds_per_step))

    def _seconds_per_step(self, step: int, now: float) -> float | None:
        if self._clock is not None and step > self._clock[0]:
            return (now - self._clock[1]) / (step - self._clock[0])
        return self._earlier_seconds_per_step

    def _final_eval_seconds(self, seconds_per_step: float) -> float:
        per_token = self._eval_seconds_per_token
        if per_token is None:
            per_token = EVAL_COST_PER_TRAIN_TOKEN * seconds_per_step / self.tokens_per_step
        return per_token * self.final_eval_tokens


def budget_raised(saved: TrainConfig, train_flags: Mapping[str, Any]) -> bool:
    """Whether a resumed run's --time-budget is larger than its saved one (or new): a finished
    budget run may then train on."""
    given = train_flags.get("time_budget")
    return given is not None and (saved.time_budget is None or given > saved.time_budget)
