"""A run-directory fuzzer: every file of a real run, every key in it, damaged on purpose.

For each file of a finished `--preset test` run and each key in it (every leaf of the JSON
files and of the safetensors headers; long lists and tables are sampled at their first, middle
and last entries), the value is replaced by one of the wrong type, one out of range and a huge
one; each file is also truncated, emptied, and given invalid UTF-8. Every damaged run must make
`tinytorch train --resume` (and `tinytorch generate`, for the files it reads) exit 2 with one
line on stderr that names the damaged file, must change no file, and, once the file is
restored, the run must resume. A hang fails through pytest-timeout.

Some replacements are valid values, not damage (a checkpoint cannot know that a recorded loss
was another number); they are listed in VALID with the reason, so the fuzzer states exactly
what it does not expect to be refused.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tinytorch import run_directory as rd

HUGE_INT, HUGE_FLOAT, HUGE_TEXT = 10**40, 1e300, "x" * 100_000
RESUME = ("train", "--resume", "--steps", "4", "--out")

# (file, key, kind) -> why the replacement is a valid value, not damage.
VALID = {
    **{
        (rd.CONFIG_FILE, f"train.{key}", "huge"): why
        for key, why in {
            "steps": "--steps given on resume replaces it",
            "bpe_vocab_size": "used only to train a new tokenizer",
            "seed": "used only to start a run; a resume restores both random states",
            "grad_clip": "any positive norm is a valid clipping threshold",
            "eval_interval": "an interval longer than the run is valid (evaluate at the end)",
            "eval_batches": "more batches than the validation text holds are valid",
        }.items()
    },
    (rd.CONFIG_FILE, "model.layer_norm_eps", "huge"): "any positive epsilon is a valid LayerNorm",
    **{
        (rd.TRAINER_STATE_FILE, key, "huge"): "a record of the last evaluation, which any loss "
        "may be"
        for key in ("last_val_loss", "last_val_bits_per_char")
    },
    **{
        (rd.METRICS_FILE, f"0.{key}", "huge"): "a record of a past step, which any value may be"
        for key in ("train_loss", "lr", "tokens_per_sec", "val_loss", "val_bits_per_char")
    },
    (rd.METRICS_FILE, "0.step", "huge"): "records past the checkpoint are dropped by design",
}


@dataclass(frozen=True)
class Damage:
    file: str
    what: str  # key and kind, or the file-level damage
    content: bytes


# ---------------------------------------------------------------------- mutations
def _replacements(value: Any) -> dict[str, Any]:
    """A value of the wrong type, one out of range, and a huge one, for a JSON leaf."""
    if isinstance(value, bool):
        return {"type": "yes"}
    if isinstance(value, (int, float)):
        huge = HUGE_INT if isinstance(value, int) else HUGE_FLOAT
        return {"type": "x", "range": -1, "huge": huge}
    if isinstance(value, str):
        return {"type": 12345, "range": "", "huge": HUGE_TEXT}
    return {"type": [] if value is None else "x"}


def _sampled(items: list, most: int) -> list:
    return items if len(items) <= most else [items[0], items[len(items) // 2], items[-1]]


def _leaves(tree: Any, table: int, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every leaf of a JSON tree; of a long list (optimizer state, parameter indices) or of a
    table of more than `table` entries (a vocabulary, a header's tensors), the first, middle and
    last entries."""
    if isinstance(tree, dict) and tree:
        for key in _sampled(list(tree), table):
            yield from _leaves(tree[key], table, (*path, key))
    elif isinstance(tree, list) and tree:
        for index in _sampled(list(range(len(tree))), 4):
            yield from _leaves(tree[index], table, (*path, index))
    else:
        yield path, tree


def _replaced(tree: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    copy = dict(tree) if isinstance(tree, dict) else list(tree)
    copy[path[0]] = _replaced(tree[path[0]], path[1:], value)
    return copy


def _key_damage(
    name: str, tree: Any, encode: Callable[[Any], bytes], table: int = 30
) -> Iterator[Damage]:
    for path, value in _leaves(tree, table):
        key = ".".join(map(str, path))
        for kind, replacement in _replacements(value).items():
            if (name, key, kind) not in VALID:
                yield Damage(name, f"{key} {kind}", encode(_replaced(tree, path, replacement)))


def _file_damage(name: str, raw: bytes) -> Iterator[Damage]:
    for cut in (0, 4, 9, len(raw) // 2, len(raw) - 2):
        yield Damage(name, f"truncated to {cut} bytes", raw[:cut])
    first_string = raw.index(b'"') + 1
    yield Damage(name, "invalid UTF-8", raw[:first_string] + b"\xff\xfe" + raw[first_string:])


def _json_damage(name: str, raw: bytes) -> Iterator[Damage]:
    yield from _key_damage(name, json.loads(raw), lambda tree: json.dumps(tree).encode())
    yield from _file_damage(name, raw)


def _metrics_damage(name: str, raw: bytes) -> Iterator[Damage]:
    records = [json.loads(line) for line in raw.splitlines()]
    yield from _key_damage(
        name, records, lambda tree: b"".join(json.dumps(r).encode() + b"\n" for r in tree)
    )
    yield from _file_damage(name, raw)


def _safetensors_damage(name: str, raw: bytes) -> Iterator[Damage]:
    (length,) = struct.unpack("<Q", raw[:8])
    header, data = json.loads(raw[8 : 8 + length]), raw[8 + length :]

    def encode(tree: Any) -> bytes:
        text = json.dumps(tree).encode()
        return struct.pack("<Q", len(text)) + text + data

    yield from _key_damage(name, header, encode, table=4)  # tensors are alike
    yield Damage(name, "header length", struct.pack("<Q", 10**12) + raw[8:])
    yield from _file_damage(name, raw)


DAMAGE = {
    rd.CONFIG_FILE: _json_damage,
    rd.TOKENIZER_FILE: _json_damage,
    rd.TRAINER_STATE_FILE: _json_damage,
    rd.METRICS_FILE: _metrics_damage,
    rd.MODEL_FILE: _safetensors_damage,
    rd.OPTIMIZER_FILE: _safetensors_damage,
}
READ_BY_GENERATE = (rd.CONFIG_FILE, rd.TOKENIZER_FILE, rd.MODEL_FILE)


def _read_by_generate(damage: Damage) -> bool:
    """`generate` reads these files, but uses none of the training settings beyond checking
    their types and ranges (a huge but valid one is for the training to refuse)."""
    huge_setting = damage.what.startswith("train.") and damage.what.endswith(" huge")
    return damage.file in READ_BY_GENERATE and not huge_setting


def _contents(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir()) if p.name != rd.LOCK_FILE}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", list(DAMAGE))
def test_every_damaged_key_is_refused_in_one_line_naming_the_file(
    run_copy: Callable[[], Path], cli, name: str
) -> None:
    run = run_copy()
    intact = _contents(run)
    generate = ("generate", str(run), "--prompt", "Once", "--max-new-tokens", "2")
    cases = list(DAMAGE[name](name, intact[name]))
    assert len(cases) >= 10
    for damage in cases:
        (run / name).write_bytes(damage.content)
        for command in [(*RESUME, str(run)), *[generate] * _read_by_generate(damage)]:
            result = cli(*command)
            lines = result.err.splitlines()
            context = (damage.what, command[0], result.err[:500])
            assert result.code == 2 and len(lines) == 1, context
            assert lines[0].startswith("tinytorch: error: ") and name in lines[0], context
        assert (run / name).read_bytes() == damage.content, damage.what
        (run / name).write_bytes(intact[name])
        assert _contents(run) == intact, damage.what  # nothing else was touched
    resumed = cli(*RESUME, str(run))
    assert resumed.code == 0, resumed.err


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", list(DAMAGE))
def test_a_fifo_in_place_of_a_file_is_refused_without_hanging(
    run_copy: Callable[[], Path], cli, name: str
) -> None:
    """Opening a FIFO that no process writes blocks forever: it must never be opened."""
    run = run_copy()
    (run / name).unlink()
    os.mkfifo(run / name)
    result = cli(*RESUME, str(run))
    result.assert_error(str(run / name))
