"""A run directory has one writer at a time, and a run's files are only ever replaced by its own.

The lock is checked with real processes: a holder started with `subprocess` keeps a run locked
while this process tries to train into it, and a holder killed with SIGKILL must not block the
next run (the OS releases the lock with the process, whatever is left in the lock file).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tinytorch import run_directory as rd
from tinytorch.run_directory import LOCK_FILE, CheckpointError, RunDirectory

HOLDER = """
import sys, time
from tinytorch.run_directory import RunDirectory
run = RunDirectory.resume(sys.argv[1])
print("locked", flush=True)
time.sleep(600)
"""


def _snapshot(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.name != LOCK_FILE
    }


@pytest.fixture
def holder() -> Iterator[Callable[[Path], subprocess.Popen]]:
    """holder(run): a separate process that holds the lock of `run` until killed."""
    started: list[subprocess.Popen] = []

    def start(run: Path) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(run)], stdout=subprocess.PIPE, text=True
        )
        started.append(process)
        assert process.stdout is not None and process.stdout.readline() == "locked\n"
        return process

    yield start
    for process in started:
        process.kill()
        process.wait()


def test_a_second_process_is_refused_at_once_naming_the_directory_and_the_holder(
    run_copy: Callable[[], Path], holder: Callable[[Path], subprocess.Popen], cli
) -> None:
    run = run_copy()
    before = _snapshot(run)
    process = holder(run)
    expected = f"{run}: in use by process {process.pid}"
    cli("train", "--out", str(run), "--resume", "--steps", "6").assert_error(expected)
    cli("train", "--preset", "test", "--out", str(run), "--overwrite").assert_error(expected)
    assert _snapshot(run) == before
    assert process.poll() is None  # the holder was never disturbed


def test_a_lock_left_by_a_killed_process_does_not_block_the_next_run(
    run_copy: Callable[[], Path], holder: Callable[[Path], subprocess.Popen], cli
) -> None:
    run = run_copy()
    process = holder(run)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert (run / LOCK_FILE).read_text() == str(process.pid)  # its pid is still in the file
    resumed = cli("train", "--out", str(run), "--resume", "--steps", "6")
    assert resumed.code == 0, resumed.err
    assert (run / LOCK_FILE).read_text() == str(os.getpid())


# ----------------------------------------------------------------------------- overwrite
def test_overwrite_removes_the_run_files_and_keeps_everything_else(
    run_copy: Callable[[], Path],
) -> None:
    run = run_copy()
    (run / "notes.txt").write_text("mine")
    (run / ".notes.txt.0123456789ab.tmp").write_text("looks like a temp file, but not ours")
    with RunDirectory.create(run, overwrite=True):
        left = sorted(p.name for p in run.iterdir())
    assert left == sorted([LOCK_FILE, ".notes.txt.0123456789ab.tmp", "notes.txt"])


def test_an_interrupted_overwrite_still_leaves_a_run_that_overwrite_replaces(
    run_copy: Callable[[], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = run_copy()
    real_remove, removed = os.remove, []

    def remove_then_crash(path: str) -> None:
        if removed:
            raise OSError("killed")
        removed.append(os.path.basename(path))
        real_remove(path)

    monkeypatch.setattr(os, "remove", remove_then_crash)
    with pytest.raises(OSError, match="killed"):
        RunDirectory.create(run, overwrite=True)
    monkeypatch.undo()
    assert removed != [rd.CONFIG_FILE] and (run / rd.CONFIG_FILE).exists()
    with pytest.raises(CheckpointError, match="already holds a training run"):
        RunDirectory.create(run)  # still recognised as a run, not as someone else's files
    RunDirectory.create(run, overwrite=True).close()
    assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE]


# --------------------------------------------------------------------------- leftovers
ORPHANS = (".model.safetensors.0123456789ab.tmp", ".trainer_state.json.abcdef012345.tmp")


@pytest.mark.parametrize("how", ["resume", "overwrite"])
def test_orphaned_temp_files_of_a_crashed_save_are_removed_when_the_run_is_next_opened(
    run_copy: Callable[[], Path], cli, how: str
) -> None:
    run = run_copy()
    for name in ORPHANS:
        (run / name).write_bytes(b"half a file")
    before = {p.name for p in run.iterdir()} - set(ORPHANS)
    if how == "resume":
        result = cli("train", "--out", str(run), "--resume", "--steps", "6")
    else:
        result = cli("train", "--preset", "test", "--out", str(run), "--overwrite")
    assert result.code == 0, result.err
    assert {p.name for p in run.iterdir()} == before | {LOCK_FILE}


def test_a_temp_like_file_of_a_name_we_never_write_is_someone_elses(tmp_path: Path, cli) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir()
    (folder / ".photo.jpg.0123456789ab.tmp").write_bytes(b"their download, half done")
    cli("train", "--preset", "test", "--out", str(folder)).assert_error(
        "holds files tinytorch did not write", ".photo.jpg.0123456789ab.tmp"
    )
    assert sorted(p.name for p in folder.iterdir()) == [".photo.jpg.0123456789ab.tmp"]
