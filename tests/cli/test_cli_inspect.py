"""`tinytorch inspect`: figures of a real run, and bad input as one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_inspect_writes_the_figures_of_a_run(tmp_path: Path, cli, train_test_run) -> None:
    run = tmp_path / "run"
    train_test_run(run, "--steps", "3", "--eval-interval", "3")
    result = cli("inspect", str(run), "--prompt", "Once upon", "--out", str(tmp_path / "pics"))
    assert result.code == 0, result.err
    pictures = sorted((tmp_path / "pics").glob("*.png"))
    assert "overview.png" in {p.name for p in pictures} and len(pictures) >= 6
    for picture in pictures:
        assert picture.read_bytes().startswith(PNG_MAGIC)
    assert "prompt 'Once upon' -> 9 tokens: O | n | c | e | \u2423 | u | p | o | n" in result.out
    assert f"wrote {len(pictures)} figures to {tmp_path / 'pics'}" in result.out


def test_inspect_refuses_bad_input_in_one_line(tmp_path: Path, cli, train_test_run) -> None:
    run = tmp_path / "run"
    train_test_run(run, "--steps", "3", "--eval-interval", "3")
    cli("inspect", str(tmp_path / "nowhere")).assert_error("no such run directory")
    cli("inspect", str(run), "--prompt", "").assert_error("prompt is empty")
    cli("inspect", str(run), "--prompt", "x" * 17).assert_error("longer than", "at most 16")
    cli("inspect", str(run), "--prompt", "Once \u2603").assert_error("never saw", "\u2603")


def test_only_inspect_loads_matplotlib() -> None:
    """The figures need matplotlib (about 0.3 s to import); train, generate and export start
    without it (the loss plot imports it when it draws)."""
    check = "import sys, tinytorch.cli; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", check]).returncode == 0
