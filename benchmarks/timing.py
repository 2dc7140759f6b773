"""Timing of one step of each library: warm-up, then repetitions, summarised by the median.

The libraries take turns in blocks of repetitions rather than step by step: after a call,
OpenBLAS's and torch's OpenMP worker threads keep spinning for a while, and on a 2-core machine
a step of the other library started in that window runs several times slower (measured here: a
torch GPT step of 55 ms took 1.6 s when interleaved with tinytorch steps at 2 threads each).
The minimum is reported next to the median: on a shared machine it is the number least
affected by other processes.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    """Milliseconds of every timed repetition of one step."""

    samples_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def best_ms(self) -> float:
        return min(self.samples_ms)


def time_step(step: Callable[[], object], reps: int, warmup: int) -> Timing:
    """Run `step` `warmup` times untimed, then `reps` times timed (wall clock)."""
    if reps < 1:
        raise ValueError(f"reps must be >= 1, got {reps}")
    for _ in range(warmup):
        step()
    samples = []
    for _ in range(reps):
        start = time.perf_counter()
        step()
        samples.append(1000.0 * (time.perf_counter() - start))
    return Timing(tuple(samples))


def compare(
    ours: Callable[[], object],
    theirs: Callable[[], object],
    reps: int,
    warmup: int,
    rounds: int = 4,
    pause_s: float = 0.0,
) -> dict[str, float]:
    """Time both steps and report medians, bests and their ratios.

    The repetitions are split into `rounds` blocks per library, alternating tinytorch and torch
    blocks, each block starting with one untimed step: a change of background load during the
    run then hits both libraries alike, and the untimed step absorbs the other library's
    spinning worker threads. With `pause_s`, a pause of that many seconds takes the untimed
    step's place (for steps of seconds, where an extra step per block is a high price).
    """
    for step in (ours, theirs):
        for _ in range(warmup):
            step()
    samples: dict[int, list[float]] = {0: [], 1: []}
    per_round = [len(piece) for piece in _split(reps, rounds)]
    for count in per_round:
        for index, step in enumerate((ours, theirs)):
            if pause_s:
                time.sleep(pause_s)
            untimed = 0 if pause_s else 1
            samples[index].extend(time_step(step, count, warmup=untimed).samples_ms)
    tiny, ref = Timing(tuple(samples[0])), Timing(tuple(samples[1]))
    return {
        "tinytorch_ms": tiny.median_ms,
        "torch_ms": ref.median_ms,
        "ratio": tiny.median_ms / ref.median_ms,
        "tinytorch_best_ms": tiny.best_ms,
        "torch_best_ms": ref.best_ms,
        "best_ratio": tiny.best_ms / ref.best_ms,
    }


def _split(reps: int, rounds: int) -> list[range]:
    """`reps` repetitions as at most `rounds` non-empty, nearly equal blocks."""
    rounds = max(1, min(rounds, reps))
    bounds = [reps * i // rounds for i in range(rounds + 1)]
    return [range(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def in_fresh_process(module: str, *args: str) -> dict:
    """Run `python -m module args` (a measurement that must start from a clean process, such as
    peak memory) and return the JSON object it prints on its last line."""
    command = [sys.executable, "-m", module, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])
