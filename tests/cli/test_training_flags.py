"""The training-recipe flags: each is stored in config.json, honoured by --resume, and a bad value
is a one-line error naming the flag.

(--time-budget has its own tests in test_time_budget.py: a run with it takes seconds.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

# flag, a good value, as config.json stores it, a bad value, what the error says
RECIPE_FLAGS = [
    ("--bpe-vocab-size", ["320"], 320, ["259"], "--bpe-vocab-size must be an integer >= 260"),
    ("--betas", ["0.8", "0.99"], [0.8, 0.99], ["0.9", "1"], "--betas must be 2 numbers in [0, 1)"),
    ("--warmup-steps", ["1"], 1, ["-1"], "--warmup-steps must be an integer >= 0"),
    ("--weight-decay", ["0.05"], 0.05, ["-0.1"], "--weight-decay must be a number >= 0"),
    ("--min-lr", ["0.002"], 0.002, ["-1"], "--min-lr must be a number >= 0"),
    ("--eval-interval", ["2"], 2, ["0"], "--eval-interval must be an integer >= 1"),
    ("--eval-tokens", ["40"], 40, ["-1"], "--eval-tokens must be an integer >= 0"),
]
IDS = [flag for flag, *_ in RECIPE_FLAGS]


def _train_config(run: Path) -> dict:
    return json.loads((run / "config.json").read_text())["train"]


@pytest.mark.parametrize(("flag", "given", "stored", "bad", "message"), RECIPE_FLAGS, ids=IDS)
def test_a_recipe_flag_is_stored_and_resumed_and_a_bad_value_refused(
    tmp_path: Path, cli, train_test_run, flag, given, stored, bad, message
) -> None:
    key = flag[2:].replace("-", "_")
    run = tmp_path / "run"
    tokenizer = "bpe" if flag == "--bpe-vocab-size" else "char"
    train_test_run(run, "--steps", "3", "--tokenizer", tokenizer, flag, *given)
    assert _train_config(run)[key] == stored

    resumed = cli("train", "--out", str(run), "--resume", "--steps", "4", flag, *given)
    assert resumed.code == 0, resumed.err  # repeating the saved value is fine
    assert _train_config(run)[key] == stored and _train_config(run)["steps"] == 4
    other = [str(float(v) / 2) if "." in v else str(int(v) + 1) for v in given]
    cli("train", "--out", str(run), "--resume", "--steps", "5", flag, *other).assert_error(
        f"cannot resume: the run was trained with {flag} {' '.join(map(str, given))}"
    )
    cli("train", "--preset", "test", "--out", str(tmp_path / "bad"), flag, *bad).assert_error(
        message, f"got {bad[-1] if flag != '--betas' else ''}"
    )


def test_eval_tokens_sets_the_sample_of_every_evaluation_also_after_resume(
    tmp_path: Path, cli, train_test_run
) -> None:
    first = train_test_run(tmp_path, "--steps", "3", "--eval-tokens", "40")
    # block 16, windows score 8 targets each past the first: 40 targets are 5 windows
    sample = re.search(r"validation: (\d+) of the ([\d,]+) held-out tokens", first.out)
    assert sample is not None and sample.group(1) == "40", first.out
    resumed = cli("train", "--out", str(tmp_path), "--resume", "--steps", "6")
    assert resumed.code == 0, resumed.err
    assert "validation: 40 of the" in resumed.out
    everything = cli(
        "train", "--preset", "test", "--out", str(tmp_path / "all"), "--steps", "3",
        "--eval-tokens", "0",
    )  # fmt: skip
    assert f"validation: {sample.group(2)} of the {sample.group(2)} held-out" in everything.out
