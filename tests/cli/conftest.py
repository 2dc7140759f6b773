"""Fixtures for the CLI tests: run `main` in-process, check the one-line error contract.

Runs use the `test` preset (1 layer, embed 32, block 16, batch 4, a 20k-character corpus), so a
training run takes about a second.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tinytorch.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def assert_error(self, *fragments: str) -> None:
        """Exit code 2 and exactly one stderr line `tinytorch: error: ...` with `fragments`."""
        assert self.code == 2, self.err
        assert "Traceback" not in self.err
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("tinytorch: error: "), self.err
        for fragment in fragments:
            assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """cli("train", "--steps", "3") runs `tinytorch train --steps 3` and returns a Result."""

    def run(*argv: str) -> Result:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


@pytest.fixture
def train_test_run(cli: Callable[..., Result]) -> Callable[..., Result]:
    """train_test_run(out_dir, *more_args): a `--preset test` training run that must succeed."""

    def run(out_dir: Path, *more: str) -> Result:
        result = cli("train", "--preset", "test", "--out", str(out_dir), *more)
        assert result.code == 0, result.err
        return result

    return run


def read_metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture
def metrics() -> Callable[[Path], list[dict]]:
    """metrics(run_dir): the records of run_dir/metrics.jsonl."""
    return read_metrics
