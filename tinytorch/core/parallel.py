"""Intra-op parallelism: split an op's independent slices over a pool of threads.

NumPy runs each call on one core, except BLAS products big enough for the BLAS library to
thread them. An op made of many small products and elementwise passes (attention: one small
matrix product per head and query block) therefore leaves the other cores idle. NumPy releases
the GIL inside matrix products and ufuncs, so plain Python threads working on disjoint slices
run in parallel. Results do not depend on the thread count: each slice is computed exactly as
it would be alone.

The thread count defaults to the CPUs this process may run on; `set_num_threads` changes it
(as `torch.set_num_threads` does for PyTorch).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from tinytorch.core.checks import is_int

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
_threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
_pool: ThreadPoolExecutor | None = None


def get_num_threads() -> int:
    """Threads that ops split their work over (1 = everything runs in the calling thread)."""
    return _threads or 1


def set_num_threads(count: int) -> None:
    """Use `count` threads for intra-op parallelism (does not change NumPy's BLAS threads)."""
    global _threads, _pool
    if not is_int(count) or count < 1:
        raise ValueError(f"thread count must be an integer >= 1, got {count!r}")
    with _lock:
        if count != _threads and _pool is not None:
            _pool.shutdown(wait=True)
            _pool = None
        _threads = count


def _executor() -> ThreadPoolExecutor:
    """The helper threads: one fewer than the thread count, as the calling thread works too."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(get_num_threads() - 1, thread_name_prefix="tinytorch")
        return _pool


def split_range(length: int, parts: int) -> list[slice]:
    """`parts` (at most `length`) contiguous slices of nearly equal size covering range(length)."""
    parts = max(1, min(parts, length))
    bounds = [length * i // parts for i in range(parts + 1)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def parallel_map(function: Callable[[T], R], pieces: Sequence[T]) -> list[R]:
    """`[function(p) for p in pieces]`, shared between the calling thread and the helpers.

    The pieces must write disjoint data. The first exception (in piece order) propagates, once
    every piece has finished.
    """
    if len(pieces) <= 1 or get_num_threads() == 1:
        return [function(piece) for piece in pieces]
    job = _SharedJob(function, pieces)
    for _ in range(min(get_num_threads(), len(pieces)) - 1):
        _executor().submit(job.work)
    job.work()
    return job.results()


class _SharedJob:
    """Pieces that threads take one at a time; done when every piece is, not every thread.

    Waking a helper thread costs 50-150 us on the project machine, about the time of a whole
    small piece. So the caller works too, and it waits only for pieces still running, never for
    a helper that woke too late to find any left: that one returns without touching anything.
    """

    def __init__(self, function: Callable[[T], R], pieces: Sequence[T]) -> None:
        self._function, self._pieces = function, pieces
        self._lock = threading.Lock()
        self._next, self._unfinished = 0, len(pieces)
        self._all_done = threading.Event()
        self._outcomes: list[tuple[bool, object]] = [(False, None)] * len(pieces)

    def work(self) -> None:
        while True:
            with self._lock:
                index, self._next = self._next, self._next + 1
            if index >= len(self._pieces):
                return
            try:
                self._outcomes[index] = (True, self._function(self._pieces[index]))
            except BaseException as error:  # handed to the caller, who raises it
                self._outcomes[index] = (False, error)
            with self._lock:
                self._unfinished -= 1
                if self._unfinished == 0:
                    self._all_done.set()

    def results(self) -> list:
        self._all_done.wait()
        for succeeded, value in self._outcomes:
            if not succeeded:
                raise value
        return [value for _, value in self._outcomes]


# Below this many elements per piece, handing work to another thread costs more than it saves
# (measured on a GPT step: the 4x-wide MLP activation of a 12x64x128 batch, 393k elements, ran
# faster in one piece; 3M-element ones ran faster in two).
MIN_ELEMENTS_PER_PIECE = 1 << 18


def chunk_count(size: int) -> int:
    """How many pieces to split `size` elements of work into (1 when small)."""
    return max(1, min(get_num_threads(), size // MIN_ELEMENTS_PER_PIECE))


def parallel_rows(
    function: Callable[..., None], outputs: Sequence[np.ndarray], inputs: Sequence[np.ndarray]
) -> None:
    """`function(*output_rows, *input_rows)` on matching row ranges (axis 0), on the threads.

    `function` must write its results into the output rows it is given, which are views: each
    output must be an array whose row slices are views (any ndarray is; a copy never is).
    Inputs are only read. Arrays of 0 or 1 rows, or small ones, run in one call.
    """
    rows = outputs[0].shape[0]
    pieces = split_range(rows, chunk_count(outputs[0].size))

    def run(piece: slice) -> None:
        function(*(a[piece] for a in outputs), *(a[piece] for a in inputs))

    parallel_map(run, pieces)
