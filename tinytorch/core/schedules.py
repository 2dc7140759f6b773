"""Learning-rate schedules: set each param group's `lr` from its base lr and the step count.

Like PyTorch's `LRScheduler`: creating a schedule applies step 0, and `step()` is called once
after each `optimizer.step()`. The base lrs are the groups' lrs at creation. Also importable
from `tinytorch.core.optimizers`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from tinytorch.core.checks import is_int


class Optimizer(Protocol):
    """What a schedule needs of an optimizer: its param groups, whose "lr" it sets."""

    param_groups: list[dict[str, Any]]


class LRSchedule(ABC):
    """Base class: subclasses give the lr at a step for a group with base lr `base_lr`."""

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        self.base_lrs = [float(group["lr"]) for group in optimizer.param_groups]
        self.last_step = 0
        self._apply()

    @abstractmethod
    def lr_at(self, step: int, base_lr: float) -> float:
        """The learning rate after `step` calls of `step()`."""

    def get_lr(self) -> list[float]:
        """Current learning rate of every param group."""
        return [self.lr_at(self.last_step, base) for base in self.base_lrs]

    def step(self) -> None:
        """Advance one step and write the new lrs into the optimizer's param groups."""
        self.last_step += 1
        self._apply()

    def _apply(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise RuntimeError(
                f"the optimizer has {len(groups)} param groups but the schedule was created for "
                f"{len(self.base_lrs)}"
            )
        for group, lr in zip(groups, self.get_lr(), strict=True):
            group["lr"] = lr

    def state_dict(self) -> dict[str, Any]:
        return {"last_step": self.last_step, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the step count and base lrs, and set the optimizer's lrs accordingly."""
        step, base_lrs = state_dict["last_step"], list(state_dict["base_lrs"])
        if not is_int(step) or step < 0:
            raise ValueError(f"last_step must be a non-negative integer, got {step!r}")
        if len(base_lrs) != len(self.base_lrs):
            raise ValueError(
                f"state dict has {len(base_lrs)} base lrs, the optimizer has "
                f"{len(self.base_lrs)} param groups"
            )
        self.last_step, self.base_lrs = int(step), [float(lr) for lr in base_lrs]
        self._apply()


class LambdaLR(LRSchedule):
    """lr = base_lr * lr_lambda(step), like `torch.optim.lr_scheduler.LambdaLR`."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]) -> None:
        if not callable(lr_lambda):
            raise TypeError(f"lr_lambda must be callable, got {lr_lambda!r}")
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def lr_at(self, step: int, base_lr: float) -> float:
        return base_lr * float(self.lr_lambda(step))


class WarmupCosineSchedule(LRSchedule):
    """Linear warmup from 0 to the base lr over `warmup_steps`, then cosine decay to `min_lr`
    at `total_steps`, and `min_lr` after that (the usual language-model schedule).

    With warmup steps W, total steps T and base lr B, the lr at step s is
    B * s / W for s < W, and min_lr + (B - min_lr) * (1 + cos(pi * (s - W) / (T - W))) / 2 for
    W <= s <= T.
    """

    def __init__(
        self, optimizer: Optimizer, warmup_steps: int, total_steps: int, min_lr: float = 0.0
    ) -> None:
        _check_steps(warmup_steps, total_steps)
        base_lrs = [float(group["lr"]) for group in optimizer.param_groups]
        if not 0.0 <= min_lr <= min(base_lrs):
            raise ValueError(
                f"min_lr must be in [0, smallest base lr {min(base_lrs)}], got {min_lr}"
            )
        self.warmup_steps, self.total_steps = int(warmup_steps), int(total_steps)
        self.min_lr = float(min_lr)
        super().__init__(optimizer)

    def set_total_steps(self, total_steps: int, warmup_steps: int) -> None:
        """Re-plan the schedule's end (and warmup) from the current step on, e.g. when a run's
        time budget allows more or fewer steps than first thought; the lrs follow at once."""
        _check_steps(warmup_steps, total_steps)
        self.warmup_steps, self.total_steps = int(warmup_steps), int(total_steps)
        self._apply()

    def lr_at(self, step: int, base_lr: float) -> float:
        if step < self.warmup_steps:
            return base_lr * step / self.warmup_steps
        decay_steps = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / decay_steps)
        return self.min_lr + (base_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _check_steps(warmup_steps: Any, total_steps: Any) -> None:
    """A plan the schedule can follow: integers, 0 <= warmup_steps <= total_steps, total >= 1."""
    for name, value in (("warmup_steps", warmup_steps), ("total_steps", total_steps)):
        if not is_int(value) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if total_steps == 0:
        raise ValueError("total_steps must be positive, got 0")
    if warmup_steps > total_steps:
        raise ValueError(
            f"warmup_steps ({warmup_steps}) must not exceed total_steps ({total_steps})"
        )
