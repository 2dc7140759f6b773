"""Faults during training never lose work: full disks, crashes, kills, diverging losses.

Every run here is the `test` preset for 12 steps with a checkpoint every 4 (steps 0, 4, 8, 12).
The fault strikes during or right after the step-8 checkpoint; afterwards the run directory
must hold a complete checkpoint, and resuming from it must reproduce the uninterrupted run
exactly: the same metrics.jsonl and byte-identical weight and optimizer files.
(tests/cli covers Ctrl-C, a NaN loss and a failed rename; this file adds the rest.)
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tinytorch import run_directory as rd
from tinytorch import train
from tinytorch.cli import main
from tinytorch.files import atomic_write_bytes
from tinytorch.models.transformer import GPT

STEPS = ("--steps", "12", "--eval-interval", "4")
FAULTY_CHECKPOINT = 3  # the third checkpoint of a run: step 8
WEIGHTS = (rd.MODEL_FILE, rd.OPTIMIZER_FILE)


def _no_samples(self: train.Trainer) -> list[str]:
    """Stands in for `Trainer.samples`: generating text takes a second and proves nothing here."""
    return ["" for _ in self.data.prompts]


@pytest.fixture(autouse=True)
def _skip_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train.Trainer, "samples", _no_samples)


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run every faulty one is compared with."""
    run = tmp_path_factory.mktemp("straight") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train.Trainer, "samples", _no_samples)
        assert main(["train", "--preset", "test", "--out", str(run), *STEPS]) == 0
    return run


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / rd.METRICS_FILE).read_text().splitlines()]


def _losses(run: Path) -> list[tuple]:
    return [(r["step"], r["train_loss"], r.get("val_loss")) for r in _metrics(run)]


def _saved_step(run: Path) -> int:
    return json.loads((run / rd.TRAINER_STATE_FILE).read_text())["step"]


def _leftovers(run: Path) -> list[str]:
    return sorted(p.name for p in run.iterdir() if p.name.endswith((".tmp", ".next")))


def _assert_resumes_to_the_straight_run(run: Path, straight: Path) -> None:
    assert main(["train", "--out", str(run), "--resume"]) == 0
    assert _losses(run) == _losses(straight)
    for name in WEIGHTS:
        assert (run / name).read_bytes() == (straight / name).read_bytes(), name
    assert _leftovers(run) == []


# ------------------------------------------------------------------------- a full disk
class _FullDisk:
    """Stands in for the file `os.fdopen` returns: writes `room` bytes, then fails like a full
    disk (ENOSPC), as write(2) does when the file system fills up half-way through."""

    def __init__(self, fd: int, room: int) -> None:
        self.fd, self.room = fd, room
        self.partial_size: int | None = None

    def write(self, data: bytes) -> int:
        os.write(self.fd, data[: self.room])
        self.partial_size = os.fstat(self.fd).st_size
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc_info: object) -> None:
        os.close(self.fd)


@contextmanager
def _disk_fills_up(room: int) -> Iterator[list[_FullDisk]]:
    """Within the block, files opened by `atomic_write_bytes` take `room` bytes, then fail."""
    opened: list[_FullDisk] = []
    real_fdopen = os.fdopen

    def fdopen(fd: int, *args: object, **kwargs: object) -> _FullDisk:
        opened.append(_FullDisk(fd, room))
        return opened[-1]

    os.fdopen = fdopen
    try:
        yield opened
    finally:
        os.fdopen = real_fdopen


def test_disk_full_half_way_through_a_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "model.safetensors"
    atomic_write_bytes(target, b"the previous checkpoint")
    new = bytes(range(256)) * 40
    with _disk_fills_up(room=len(new) // 2) as opened, pytest.raises(OSError) as info:
        atomic_write_bytes(target, new)
    assert opened[0].partial_size == len(new) // 2  # half of the new file really was written
    assert info.value.errno == errno.ENOSPC
    assert info.value.filename == str(target)  # the error says which file could not be written
    assert target.read_bytes() == b"the previous checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors"]  # no temp left


# -------------------------------------------------- faults at every stage of a checkpoint
class _Killed(BaseException):
    """Simulates the process dying: nothing after this point runs, no handler catches it."""


def _after_writing(name: str) -> Callable[[pytest.MonkeyPatch], None]:
    """Fault: the process dies right after `name` of the step-8 checkpoint is on disk."""

    def arm(monkeypatch: pytest.MonkeyPatch) -> None:
        real, seen = rd.atomic_write_bytes, []

        def write(path: str, data: bytes) -> None:
            real(path, data)
            seen.append(os.path.basename(path))
            if seen.count(name) == FAULTY_CHECKPOINT:
                raise _Killed

        monkeypatch.setattr(rd, "atomic_write_bytes", write)

    return arm


def _before_renaming(name: str) -> Callable[[pytest.MonkeyPatch], None]:
    """Fault: the process dies just before the staged `name` of step 8 is renamed into place."""

    def arm(monkeypatch: pytest.MonkeyPatch) -> None:
        real, seen = os.replace, []

        def replace(src: str, dst: str) -> None:
            if os.path.basename(dst) == name and src.endswith(rd.STAGED_SUFFIX):
                seen.append(dst)
                if len(seen) == FAULTY_CHECKPOINT:
                    raise _Killed
            real(src, dst)

        monkeypatch.setattr(os, "replace", replace)

    return arm


def _disk_full_while_writing(name: str) -> Callable[[pytest.MonkeyPatch], None]:
    """Fault: the disk fills up half-way through writing `name` of the step-8 checkpoint."""

    def arm(monkeypatch: pytest.MonkeyPatch) -> None:
        real, seen = rd.atomic_write_bytes, []

        def write(path: str, data: bytes) -> None:
            seen.append(os.path.basename(path))
            if seen.count(name) != FAULTY_CHECKPOINT:
                return real(path, data)
            with _disk_fills_up(room=len(data) // 2):
                real(path, data)

        monkeypatch.setattr(rd, "atomic_write_bytes", write)

    return arm


STAGED_MODEL = rd.MODEL_FILE + rd.STAGED_SUFFIX


@pytest.mark.parametrize(
    ("arm", "kept_step"),
    [
        # Before the commit, the step-4 checkpoint stands; metrics already name step 8.
        (_after_writing(rd.METRICS_FILE), 4),
        (_after_writing(STAGED_MODEL), 4),
        # After trainer_state.json (the commit), step 8 stands even though no rename happened.
        (_after_writing(rd.TRAINER_STATE_FILE), 8),
        (_before_renaming(rd.OPTIMIZER_FILE), 8),
    ],
    ids=["after-metrics", "after-staging-weights", "after-commit", "between-renames"],
)
def test_a_crash_anywhere_in_a_checkpoint_resumes_exactly(
    tmp_path: Path, straight: Path, monkeypatch: pytest.MonkeyPatch, arm, kept_step: int
) -> None:
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        arm(patch)
        with pytest.raises(_Killed):
            main(["train", "--preset", "test", "--out", str(run), *STEPS])
    assert _saved_step(run) == kept_step
    _assert_resumes_to_the_straight_run(run, straight)


@pytest.mark.parametrize(
    "name", [rd.METRICS_FILE, STAGED_MODEL, rd.TRAINER_STATE_FILE]
)
def test_disk_full_mid_checkpoint_stops_with_one_line_and_resumes_exactly(
    tmp_path: Path,
    straight: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
) -> None:
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        _disk_full_while_writing(name)(patch)
        assert main(["train", "--preset", "test", "--out", str(run), *STEPS]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"tinytorch: error: could not write the run's files at step 8 ({run / name}: No space "
        f"left on device); stopped, and the last complete checkpoint (step 4) in {run} is intact"
    ]
    assert _saved_step(run) == 4
    assert [p for p in _leftovers(run) if p.endswith(".tmp")] == []  # no half-written file
    _assert_resumes_to_the_straight_run(run, straight)


# ------------------------------------------------------------------ a real SIGKILL
def test_sigkill_mid_run_then_resume_reproduces_the_uninterrupted_run(
    tmp_path: Path, straight: Path
) -> None:
    run = tmp_path / "run"
    command = [sys.executable, "-m", "tinytorch", "train", "--preset", "test", "--out", str(run),
               *STEPS]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        state = run / rd.TRAINER_STATE_FILE
        while not (state.exists() and _saved_step(run) >= 4):  # a checkpoint after step 0
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL
    finally:
        process.kill()
        process.stderr.close()
    assert 4 <= _saved_step(run) < 12  # killed mid-run, not after it finished
    _assert_resumes_to_the_straight_run(run, straight)


# ------------------------------------------------------------------- a diverging loss
def test_inf_loss_stops_the_run_and_leaves_the_last_checkpoint_untouched(
    tmp_path: Path,
    straight: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run = tmp_path / "run"
    original, training_calls, on_disk = GPT.forward, [], {}

    def forward(self: GPT, ids, targets=None, kv_caches=None):
        logits, loss = original(self, ids, targets, kv_caches)
        if self.training:
            training_calls.append(ids)
            if len(training_calls) == 6:  # the step-4 checkpoint is complete: remember its files
                on_disk.update({p.name: p.read_bytes() for p in run.iterdir()})
                return logits, loss * float("inf")
        return logits, loss

    with monkeypatch.context() as patch:
        patch.setattr(GPT, "forward", forward)
        assert main(["train", "--preset", "test", "--out", str(run), *STEPS]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"tinytorch: error: training diverged at step 6: the loss is inf; stopped. The last "
        f"good checkpoint (step 4) is in {run} (try a lower --lr)"
    ]
    assert {p.name: p.read_bytes() for p in run.iterdir()} == on_disk  # nothing written since
    _assert_resumes_to_the_straight_run(run, straight)
