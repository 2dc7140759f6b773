"""`tinytorch train`: run directory contents, determinism, Ctrl-C + resume, divergence, errors."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

from tinytorch import run_directory as rd
from tinytorch import train
from tinytorch.models.transformer import GPT

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _weights(run_dir: Path) -> dict[str, np.ndarray]:
    return safetensors.numpy.load_file(run_dir / rd.MODEL_FILE)


def _losses(records: list[dict]) -> list[tuple]:
    return [(r["step"], r["train_loss"], r.get("val_loss")) for r in records]


def _saved_step(run_dir: Path) -> int:
    return json.loads((run_dir / rd.TRAINER_STATE_FILE).read_text())["step"]


@pytest.fixture
def ctrl_c_at(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """ctrl_c_at(step, times=1): deliver real SIGINTs right after that training step."""

    def arm(step: int, times: int = 1) -> None:
        original = train.Trainer.train_step

        def train_step(self: train.Trainer) -> float:
            loss = original(self)
            if self.step == step:
                for _ in range(times):
                    signal.raise_signal(signal.SIGINT)
            return loss

        monkeypatch.setattr(train.Trainer, "train_step", train_step)

    return arm


def test_train_writes_a_complete_run_directory(tmp_path: Path, train_test_run, metrics) -> None:
    result = train_test_run(tmp_path / "run")
    run = tmp_path / "run"
    config = json.loads((run / "config.json").read_text())
    assert (config["format"], config["version"], config["tokenizer"]) == (
        "tinytorch.checkpoint",
        1,
        "char",
    )
    assert GPT(**config["model"]).config.to_dict() == config["model"]
    assert config["train"]["preset"] == "test" and config["train"]["steps"] == 6
    records = metrics(run)
    assert [r["step"] for r in records] == [3, 6]  # eval every 3 steps of 6
    for r in records:
        assert {"train_loss", "lr", "tokens_per_sec", "val_loss", "val_bits_per_char"} <= set(r)
        # a char model's bits per character is its loss per token in bits
        assert r["val_bits_per_char"] == pytest.approx(r["val_loss"] / math.log(2))
    assert (run / "loss.png").read_bytes().startswith(PNG_MAGIC)
    assert _saved_step(run) == 6
    assert "corpus floor" in result.out and "final validation loss" in result.out
    assert result.out.count("--- sample") == 3


def test_training_lowers_the_validation_loss(tmp_path: Path, train_test_run, metrics) -> None:
    train_test_run(tmp_path, "--steps", "40", "--eval-interval", "20")
    evaluated = [r["val_loss"] for r in metrics(tmp_path) if "val_loss" in r]
    assert len(evaluated) == 2
    assert evaluated[1] < evaluated[0] < math.log(61)  # below guessing among the 61 tokens


def test_same_seed_is_bit_identical_and_seed_matters(
    tmp_path: Path, train_test_run, metrics
) -> None:
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        train_test_run(tmp_path / name, "--seed", seed)
    assert _losses(metrics(tmp_path / "a")) == _losses(metrics(tmp_path / "b"))
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (
        tmp_path / "b" / "model.safetensors"
    ).read_bytes()
    assert _losses(metrics(tmp_path / "a")) != _losses(metrics(tmp_path / "c"))


def test_ctrl_c_then_resume_matches_an_uninterrupted_run(
    tmp_path: Path, cli, train_test_run, metrics, ctrl_c_at
) -> None:
    args = ("--steps", "8", "--eval-interval", "3")
    train_test_run(tmp_path / "straight", *args)

    ctrl_c_at(5)  # mid-way between evaluations and mid-way through a logging interval
    stopped = cli("train", "--preset", "test", "--out", str(tmp_path / "resumed"), *args)
    assert stopped.code == 130
    assert stopped.err.splitlines() == [
        f"tinytorch: interrupted at step 5; checkpoint saved. Resume with: tinytorch train "
        f"--out {tmp_path / 'resumed'} --resume"
    ]
    assert _saved_step(tmp_path / "resumed") == 5
    assert "--- sample" not in stopped.out

    resumed = cli("train", "--out", str(tmp_path / "resumed"), "--resume")
    assert resumed.code == 0, resumed.err
    assert "resuming" in resumed.out and "at step 5 of 8" in resumed.out
    straight, again = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    for name in straight:
        np.testing.assert_array_equal(again[name], straight[name], err_msg=name)
    assert _losses(metrics(tmp_path / "resumed")) == _losses(metrics(tmp_path / "straight"))
    for name in ("optimizer.safetensors", "model.safetensors"):
        assert (tmp_path / "straight" / name).read_bytes() == (
            tmp_path / "resumed" / name
        ).read_bytes()


def test_second_ctrl_c_stops_at_once_and_keeps_last_checkpoint(
    tmp_path: Path, cli, ctrl_c_at
) -> None:
    ctrl_c_at(4, times=2)
    result = cli("train", "--preset", "test", "--out", str(tmp_path))
    assert result.code == 130
    assert result.err.splitlines() == [
        "tinytorch: interrupted; the last saved checkpoint is intact"
    ]
    assert _saved_step(tmp_path) == 3  # the evaluation checkpoint before the interrupt
    model, _, config = rd.load_run(tmp_path)
    trainer = train.Trainer(config.train, rd.RunDirectory(tmp_path), None, model, print)  # type: ignore[arg-type]
    trainer.restore()  # the checkpoint is complete
    assert trainer.step == 3


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(
    tmp_path: Path, cli, train_test_run, metrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    train_test_run(tmp_path / "straight")
    original = GPT.forward
    calls = {"train": 0}

    def forward(self: GPT, ids, targets=None, kv_caches=None):
        out = original(self, ids, targets, kv_caches)
        if targets is not None and self.training:
            calls["train"] += 1
            if calls["train"] == 5:
                return out[0], out[1] * float("nan")
        return out

    monkeypatch.setattr(GPT, "forward", forward)
    result = cli("train", "--preset", "test", "--out", str(tmp_path / "run"))
    result.assert_error("diverged at step 5", "the loss is nan", "last good checkpoint (step 3)")
    assert _saved_step(tmp_path / "run") == 3
    monkeypatch.undo()
    # The kept checkpoint is good: resuming from it reproduces the straight run exactly.
    resumed = cli("train", "--out", str(tmp_path / "run"), "--resume")
    assert resumed.code == 0, resumed.err
    assert _losses(metrics(tmp_path / "run")) == _losses(metrics(tmp_path / "straight"))


def test_resume_can_raise_the_step_budget_but_not_repeat_a_finished_run(
    tmp_path: Path, cli, train_test_run, metrics
) -> None:
    train_test_run(tmp_path)
    cli("train", "--out", str(tmp_path), "--resume").assert_error("already at step 6", "--steps")
    cli("train", "--out", str(tmp_path), "--resume", "--steps", "4").assert_error(
        "already at step 6"
    )
    cli("train", "--out", str(tmp_path), "--resume", "--steps", "1").assert_error(
        "--steps 1", "warms up for 2 steps"
    )
    more = cli("train", "--out", str(tmp_path), "--resume", "--steps", "9")
    assert more.code == 0, more.err
    assert [r["step"] for r in metrics(tmp_path)] == [3, 6, 9]
    assert json.loads((tmp_path / "config.json").read_text())["train"]["steps"] == 9


@pytest.mark.parametrize(
    ("option", "fragment"),
    [
        (("--preset", "tiny"), "--preset test, not tiny"),
        (("--lr", "0.5"), "--lr 0.01, not 0.5"),
        (("--tokenizer", "bpe"), "--tokenizer char, not bpe"),
    ],
)
def test_resume_with_a_different_configuration_is_refused(
    tmp_path: Path, cli, train_test_run, option, fragment
) -> None:
    train_test_run(tmp_path, "--steps", "3")
    cli("train", "--out", str(tmp_path), "--resume", "--steps", "6", *option).assert_error(
        "cannot resume", fragment
    )


def test_resume_into_a_directory_holding_another_model_is_refused(
    tmp_path: Path, cli, train_test_run
) -> None:
    train_test_run(tmp_path, "--steps", "3")
    config = json.loads((tmp_path / "config.json").read_text())
    config["model"]["num_layers"] = 2  # the weights on disk are for 1 layer
    (tmp_path / "config.json").write_text(json.dumps(config))
    cli("train", "--out", str(tmp_path), "--resume", "--steps", "6").assert_error(
        "model.safetensors", "blocks.1."
    )


def test_train_on_a_text_file_and_refuse_resume_after_it_changed(
    tmp_path: Path, cli, train_test_run
) -> None:
    text = tmp_path / "story.txt"
    text.write_text("The quick brown fox jumps over the lazy dog.\n" * 40)
    result = train_test_run(tmp_path / "run", "--text", str(text), "--steps", "3")
    assert "corpus floor" not in result.out
    text.write_text("A different text altogether, long enough to train on.\n" * 40)
    cli("train", "--out", str(tmp_path / "run"), "--resume", "--steps", "6").assert_error(
        "story.txt", "changed"
    )


def test_bpe_tokenizer_run_trains_and_generates(tmp_path: Path, cli, train_test_run) -> None:
    train_test_run(tmp_path, "--tokenizer", "bpe", "--steps", "3")
    assert json.loads((tmp_path / "config.json").read_text())["tokenizer"] == "bpe"
    assert json.loads((tmp_path / "tokenizer.json").read_text())["type"] == "bpe"
    result = cli("generate", str(tmp_path), "--prompt", "Once upon a time", "--seed", "3")
    assert result.code == 0, result.err
    assert result.out.startswith("Once upon a time")


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        ((), ("required", "{train,generate,inspect,export}")),
        (("train", "--steps", "-5"), ("--steps must be an integer >= 1", "-5")),
        (("train", "--steps", "many"), ("--steps", "invalid int value", "many")),
        (("train", "--batch-size", "0"), ("--batch-size must be an integer >= 1",)),
        (("train", "--eval-interval", "0"), ("--eval-interval",)),
        (("train", "--lr", "0"), ("--lr must be a positive number",)),
        (("train", "--lr", "nan"), ("--lr must be a positive number",)),
        (("train", "--seed", "-1"), ("--seed must be an integer >= 0",)),
        (("train", "--preset", "huge"), ("invalid choice: 'huge'", "'tiny', 'small', 'test'")),
        (("train", "--tokenizer", "word"), ("invalid choice", "word")),
        (("train", "--text", "no-such-file.txt"), ("no-such-file.txt", "No such file")),
        (("train", "--resume", "--out", "nowhere"), ("nowhere", "no such run directory")),
        (("train", "--bogus"), ("unrecognized arguments", "--bogus")),
    ],
)
def test_train_errors_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli, argv, fragments
) -> None:
    monkeypatch.chdir(tmp_path)
    cli(*argv).assert_error(*fragments)
    assert not (tmp_path / "runs").exists()  # nothing was started


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b"", ("contains no text",)),
        (b"\xff\xfe not utf-8 \xc3", ("not valid UTF-8", "byte offset 0")),
        (b"far too short for a block", ("too short", "need more than 16")),
    ],
)
def test_unusable_text_files_are_one_line_errors(tmp_path: Path, cli, content, fragments) -> None:
    text = tmp_path / "input.txt"
    text.write_bytes(content)
    cli(
        "train", "--preset", "test", "--text", str(text), "--out", str(tmp_path / "run")
    ).assert_error("input.txt", *fragments)


def test_text_argument_that_is_a_directory(tmp_path: Path, cli) -> None:
    cli("train", "--text", str(tmp_path), "--out", str(tmp_path / "run")).assert_error(
        str(tmp_path), "Is a directory"
    )


def test_help_lists_both_commands(cli) -> None:
    result = cli("--help")
    assert result.code == 0
    assert "train" in result.out and "generate" in result.out
    train_help = cli("train", "--help").out
    for option in (
        "--text",
        "--tokenizer",
        "--preset",
        "--steps",
        "--out",
        "--resume",
        "--seed",
        "--eval-interval",
        "--batch-size",
        "--lr",
    ):
        assert option in train_help


def test_python_dash_m_runs_a_short_training(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "tinytorch",
        "train",
        "--preset",
        "test",
        "--steps",
        "2",
        "--eval-interval",
        "2",
        "--out",
        str(tmp_path / "run"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "final validation loss" in done.stdout
    assert _saved_step(tmp_path / "run") == 2


def test_real_sigint_to_a_training_process_saves_and_exits_130(tmp_path: Path) -> None:
    run = tmp_path / "run"
    command = [sys.executable, "-m", "tinytorch", "train", "--preset", "test", "--steps",
               "100000", "--eval-interval", "100000", "--out", str(run)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        metrics = run / "metrics.jsonl"
        while not (metrics.exists() and metrics.read_text()):  # first record after 10 steps
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130
    step = _saved_step(run)
    assert step >= 10
    assert err.splitlines()[-1] == (
        f"tinytorch: interrupted at step {step}; checkpoint saved. Resume with: "
        f"tinytorch train --out {run} --resume"
    )
