"""What trainer_state.json may hold, checked key by key before anything is restored from it.

The checkpoint's hashes vouch for the weight files, not for trainer_state.json itself: a damaged
or hand-edited one must be refused here, naming the key (`trainer_state.json: step: must be
...`), never surface as a TypeError mid-run or as a run that silently differs from the one
that was saved: resumed at step -4, with an emptied optimizer state (a fresh start in
disguise), with hyperparameters other than config.json's, or with a broken random stream.

Values the configuration decides (the optimizer's hyperparameters, the schedule's base lrs)
must equal what the live optimizer and schedule, built from config.json, hold; counters must
agree with each other; random states must be what NumPy's PCG64 writes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from tinytorch.checkpoint_error import CheckpointError, shown
from tinytorch.core.checks import is_finite_number, is_int
from tinytorch.core.optimizers import Optimizer
from tinytorch.core.schedules import LRSchedule
from tinytorch.state_tree import encode_tree

ArraySpecs = dict[str, tuple[tuple[int, ...], np.dtype]]

COUNTERS = ("step", "loss_count")
LOSSES = ("loss_sum", "best_val_loss", "last_val_loss", "last_val_bits_per_char")
KEYS = (*COUNTERS, *LOSSES, "schedule", "tinytorch_rng", "data_rng", "optimizer")
METRICS_RECORDS = "metrics_records"  # written by RunDirectory; absent in runs saved before it
# Seconds the run has used (for --time-budget); absent in runs saved before it was kept.
RUN_RECORDS = ("seconds",)
SHA256 = re.compile(r"[0-9a-f]{64}")


class _Checker:
    """Raises CheckpointError("<file>: <key>: <problem>")."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> None:
        raise CheckpointError(f"{self.path}: {key}: {problem}")

    def require(self, ok: bool, key: str, allowed: str, value: Any) -> None:
        if not ok:
            self.fail(key, f"must be {allowed}, got {shown(value)}")

    def keys(
        self, value: Any, known: tuple[str, ...], key: str, required: tuple[str, ...] | None = None
    ) -> None:
        """`value` is an object holding the keys `required` (default: all of `known`), and no
        others than `known`."""
        self.require(isinstance(value, dict), key or "(all)", "an object", value)
        for name in known if required is None else required:
            if name not in value:
                self.fail(_join(key, name), "is missing")
        for name in value:
            if name not in known:
                self.fail(_join(key, str(name)), f"unknown key (known: {', '.join(known)})")


def check_trainer_state(
    state: Mapping[str, Any], optimizer: Optimizer, schedule: LRSchedule, path: str
) -> ArraySpecs:
    """Check every key of a trainer state (without its format, version and sha256) against the
    live `optimizer` and `schedule`; return the arrays its optimizer state refers to (name ->
    shape and dtype), which optimizer.safetensors must hold."""
    check = _Checker(path)
    check.keys(state, (*KEYS, METRICS_RECORDS, *RUN_RECORDS), "", KEYS)
    for key in (*COUNTERS, METRICS_RECORDS):
        value = state.get(key, 0)
        check.require(is_int(value) and value >= 0, key, "an integer >= 0", value)
    for key in LOSSES:
        value = state[key]
        optional = key != "loss_sum"
        check.require(
            (optional and value is None) or _non_negative(value),
            key,
            "a finite number >= 0" + (" or null" if optional else ""),
            value,
        )
    for key in RUN_RECORDS:
        value = state.get(key, 0.0)
        check.require(_non_negative(value), key, "a finite number >= 0", value)
    step = state["step"]
    _check_counts(check, state)
    _check_schedule(check, state["schedule"], schedule, step)
    for key in ("tinytorch_rng", "data_rng"):
        _check_pcg64(check, state[key], key)
    return _check_optimizer(check, state["optimizer"], optimizer, schedule, step)


def _check_counts(check: _Checker, state: Mapping[str, Any]) -> None:
    """Counters and records that must agree: losses summed since the last log (none at all
    without a count), and the best evaluation no worse than the last one."""
    count, total = state["loss_count"], state["loss_sum"]
    check.require(count <= state["step"], "loss_count", f"at most the step {state['step']}", count)
    check.require(count > 0 or total == 0, "loss_sum", "0 when loss_count is 0", total)
    evaluated = [state[key] is not None for key in LOSSES[1:]]
    check.require(
        all(evaluated) or not any(evaluated),
        "best_val_loss",
        "null exactly when last_val_loss is",
        state["best_val_loss"],
    )
    if all(evaluated):
        best, last = state["best_val_loss"], state["last_val_loss"]
        check.require(best <= last, "best_val_loss", f"at most last_val_loss {last}", best)


def _check_schedule(check: _Checker, saved: Any, schedule: LRSchedule, step: int) -> None:
    check.keys(saved, ("last_step", "base_lrs"), "schedule")
    last = saved["last_step"]
    check.require(last == step and is_int(last), "schedule.last_step", f"the step {step}", last)
    check.require(
        saved["base_lrs"] == schedule.base_lrs,
        "schedule.base_lrs",
        f"{schedule.base_lrs} (config.json's lr for each parameter group)",
        saved["base_lrs"],
    )


def _check_pcg64(check: _Checker, saved: Any, key: str) -> None:
    """A NumPy PCG64 state, as `Generator.bit_generator.state` gives it."""
    check.keys(saved, ("bit_generator", "state", "has_uint32", "uinteger"), key)
    name = saved["bit_generator"]
    check.require(name == "PCG64", f"{key}.bit_generator", "'PCG64'", name)
    check.keys(saved["state"], ("state", "inc"), f"{key}.state")
    value, inc = saved["state"]["state"], saved["state"]["inc"]
    check.require(_below(value, 2**128), f"{key}.state.state", "an integer in [0, 2**128)", value)
    check.require(
        _below(inc, 2**128) and inc % 2 == 1,
        f"{key}.state.inc",
        "an odd integer in [0, 2**128)",
        inc,
    )
    check.require(
        saved["has_uint32"] in (0, 1) and is_int(saved["has_uint32"]),
        f"{key}.has_uint32",
        "0 or 1",
        saved["has_uint32"],
    )
    check.require(
        _below(saved["uinteger"], 2**32),
        f"{key}.uinteger",
        "an integer in [0, 2**32)",
        saved["uinteger"],
    )


def _check_optimizer(
    check: _Checker, saved: Any, optimizer: Optimizer, schedule: LRSchedule, step: int
) -> ArraySpecs:
    check.keys(saved, ("state", "param_groups"), "optimizer")
    live = optimizer.state_dict()["param_groups"]
    groups = saved["param_groups"]
    check.require(
        isinstance(groups, list) and len(groups) == len(live),
        "optimizer.param_groups",
        f"a list of {len(live)} parameter groups",
        groups,
    )
    for i, (group, expected) in enumerate(zip(groups, live, strict=True)):
        key = f"optimizer.param_groups.{i}"
        check.keys(group, tuple(expected), key)
        base = schedule.base_lrs[i]
        for name, value in expected.items():
            if name == "lr":  # the schedule sets it anew on resume; it never exceeds its base
                lr = group[name]
                ok = _non_negative(lr) and lr <= base * (1 + 1e-9)
                check.require(ok, f"{key}.lr", f"a number in [0, {base}]", lr)
                continue
            wanted = encode_tree(value, "", {})
            check.require(
                group[name] == wanted,
                f"{key}.{name}",
                f"{shown(wanted)} (as config.json implies)",
                group[name],
            )
    params = [p for group in optimizer.param_groups for p in group["params"]]
    entries = _state_entries(check, saved["state"], len(params))
    if step == 0 and entries:
        check.fail("optimizer.state", "must be empty at step 0 (no update was made yet)")
    missing = [i for i in range(len(params)) if i not in entries]
    if step > 0 and missing:
        check.fail(
            "optimizer.state",
            f"parameter {missing[0]} has no state, but the run is at step {step} (an emptied "
            "optimizer state is damage, not a fresh start)",
        )
    arrays: ArraySpecs = {}
    kind = type(optimizer)
    for index, entry in entries.items():
        key = f"optimizer.state.{index}"
        check.keys(entry, (*kind._STATE_COUNTS, *kind._STATE_ARRAYS), key, kind._REQUIRED_STATE)
        for name, value in entry.items():
            if name in kind._STATE_COUNTS:
                check.require(
                    value == step and is_int(value),
                    f"{key}.{name}",
                    f"the run's step {step}",
                    value,
                )
                continue
            reference = value.get("__array__") if isinstance(value, dict) else None
            check.require(
                isinstance(reference, str)
                and value.keys() == {"__array__"}
                and reference not in arrays,
                f"{key}.{name}",
                "a reference to a tensor of optimizer.safetensors of its own",
                value,
            )
            arrays[reference] = (params[index].shape, params[index].dtype)
    return arrays


def check_hashes(hashes: Any, required: tuple[str, ...], optional: str, path: str) -> None:
    """The integrity record ("sha256"): a hash for each file in `required`, and for `optional`
    (the tokenizer, whose hash runs saved before it existed lack)."""
    check = _Checker(path)
    check.keys(hashes, (*required, optional), "sha256", required)
    for name, digest in hashes.items():
        ok = isinstance(digest, str) and SHA256.fullmatch(digest) is not None
        check.require(ok, f"sha256.{name}", "64 lowercase hex digits", digest)


def _state_entries(check: _Checker, saved: Any, count: int) -> dict[int, Any]:
    """Per-parameter state by parameter index, from `encode_tree`'s form of an int-keyed dict
    (`{"__items__": [[index, entry], ...]}`, or `{}` when empty)."""
    if saved == {}:
        return {}
    check.keys(saved, ("__items__",), "optimizer.state")
    items = saved["__items__"]
    pairs = f"a list of [parameter index in [0, {count}), state] pairs, each index once"
    check.require(isinstance(items, list), "optimizer.state", pairs, items)
    entries: dict[int, Any] = {}
    for item in items:
        ok = isinstance(item, list) and len(item) == 2 and _below(item[0], count)
        check.require(ok and item[0] not in entries, "optimizer.state", pairs, item)
        entries[item[0]] = item[1]
    return entries


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _non_negative(value: Any) -> bool:
    return is_finite_number(value) and value >= 0


def _below(value: Any, bound: int) -> bool:
    return is_int(value) and 0 <= value < bound
