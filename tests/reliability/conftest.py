"""Fixtures shared by the reliability tests: a finished training run, and pickle payloads.

The run is the `test` preset (1 layer, embed 32, block 16) trained for 3 steps, made once per
session; tests that change its files work on a copy (`run_copy`).
"""

from __future__ import annotations

import json
import pickle
import shutil
import struct
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import numpy as np
import pytest

from tinytorch import train


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete run directory; read-only (take a `run_copy` to change it)."""
    run = tmp_path_factory.mktemp("template") / "run"
    train.run(str(run), preset="test", steps=3, eval_interval=3, echo=lambda line: None)
    return run


@pytest.fixture
def run_copy(trained_run: Path, tmp_path: Path) -> Callable[[], Path]:
    """run_copy(): a fresh copy of the trained run inside this test's tmp_path."""
    copies = iter(range(1_000))

    def copy() -> Path:
        return Path(shutil.copytree(trained_run, tmp_path / f"run{next(copies)}"))

    return copy


class _Payload:
    """Unpickling this creates `marker`: proof that loading a file executed code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def _write(path: Path, kind: str, marker: Path) -> None:
    payload = np.array([_Payload(marker)], dtype=object)
    with open(path, "wb") as f:  # a file object: np.save(name) would append ".npy"
        if kind == "npy":
            np.save(f, payload, allow_pickle=True)
        elif kind == "npz":
            np.savez(f, weights=payload)
        else:
            pickle.dump({"weights": _Payload(marker)}, f)


@pytest.fixture
def pickle_bomb(tmp_path: Path) -> Callable[..., Path]:
    """pickle_bomb(path, kind="npy"): write a .npy / .npz / raw pickle at `path` that creates a
    marker file when unpickled, and return the marker's path (removed again, ready to check)."""
    count = iter(range(1_000))

    def write(path: Path, kind: str = "npy") -> Path:
        marker = tmp_path / f"pwned{next(count)}"
        _write(path, kind, marker)
        if kind == "pickle":
            pickle.loads(path.read_bytes())
        elif kind == "npz":
            with np.load(path, allow_pickle=True) as archive:
                archive["weights"]
        else:
            np.load(path, allow_pickle=True)
        assert marker.exists(), "the payload must really run when unpickled"
        marker.unlink()
        return marker

    return write


@pytest.fixture
def huge_tensor_safetensors() -> bytes:
    """A 100-byte safetensors file whose header declares a 4 TB float32 tensor."""
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 4 * 10**12]}}
    ).encode()
    return struct.pack("<Q", len(header)) + header + bytes(16)


@contextmanager
def _peak_allocation() -> Iterator[list[int]]:
    result: list[int] = []
    tracemalloc.start()
    try:
        yield result
    finally:
        result.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


@pytest.fixture
def peak_allocation() -> Callable[[], AbstractContextManager[list[int]]]:
    """`with peak_allocation() as peak:` ... then `peak[0]` is the peak number of bytes allocated
    inside the block (tracemalloc sees every buffer NumPy and Python allocate)."""
    return _peak_allocation
