"""Ctrl-C that lets the current step finish: training saves a checkpoint, generation keeps the
text it printed, and each then says truthfully where it stopped."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def sigint_sets_flag() -> Iterator[Callable[[], bool]]:
    """First Ctrl-C asks the loop to stop after the current step; a second one interrupts."""
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested.is_set
        return

    def handler(signum: int, frame: Any) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield requested.is_set
    finally:
        signal.signal(signal.SIGINT, previous)
