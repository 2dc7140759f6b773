"""Fixtures for the CLI tests (`cli`, which runs `main` in-process, is in tests/conftest.py).

Runs use the `test` preset (1 layer, embed 32, block 16, batch 4, a 20k-character corpus), so a
training run takes about a second.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def train_test_run(cli: Callable[..., Any]) -> Callable[..., Any]:
    """train_test_run(out_dir, *more_args): a `--preset test` training run that must succeed."""

    def run(out_dir: Path, *more: str) -> Any:
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
