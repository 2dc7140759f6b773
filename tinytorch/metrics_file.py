"""Reading metrics.jsonl (one JSON object per logged training step), checked line by line.

Every record holds its step (increasing from line to line) and the training loss, and every
value in it is a finite number >= 0 (losses, learning rate, speed, ...). A damaged line is
refused naming the line and the key, so a resumed run never plots or extends a corrupt log.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tinytorch.checkpoint_error import CheckpointError, shown
from tinytorch.core.checks import is_finite_number, is_int
from tinytorch.files import read_bytes

METRICS_LIMIT = 512 * 2**20  # bytes; a record is about 150 bytes


def read_metrics(path: str) -> list[dict[str, Any]]:
    """The records of `path` (none if it does not exist), or CheckpointError naming the line."""
    if not os.path.isfile(path):
        return []
    try:
        text = read_bytes(path, limit=METRICS_LIMIT).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path}: unreadable ({e})") from None
    records: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as e:
            raise CheckpointError(f"{path}: line {number} is not JSON ({e})") from None
        _check_record(record, records[-1]["step"] if records else 0, f"{path}: line {number}")
        records.append(record)
    return records


def _check_record(record: Any, previous_step: int, where: str) -> None:
    if not isinstance(record, dict):
        raise CheckpointError(f"{where}: must be a JSON object, got {shown(record)}")
    step = record.get("step")
    if not (is_int(step) and step > previous_step):
        raise CheckpointError(
            f"{where}: step: must be an integer > {previous_step} (the previous line's), got "
            f"{shown(step)}"
        )
    if "train_loss" not in record:
        raise CheckpointError(f"{where} has no numeric 'train_loss'")
    for key, value in record.items():
        if not (is_finite_number(value) and value >= 0):
            raise CheckpointError(
                f"{where}: {key}: must be a finite number >= 0, got {shown(value)}"
            )
