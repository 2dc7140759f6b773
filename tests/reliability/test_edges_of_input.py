"""Inputs at the edges: tiny temperatures, diverging learning rates, texts from pipes, moved
texts, token ids beyond int64, and matmul shapes that do not fit."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from tinytorch.core import functional as F
from tinytorch.core.errors import IndexOutOfRangeError
from tinytorch.core.tensor import Tensor
from tinytorch.data import generate_corpus
from tinytorch.models.generation import sample_next_token
from tinytorch.models.transformer import GPT
from tinytorch.text.tokenization import CharTokenizer

TRAIN = ["train", "--preset", "test", "--steps", "2", "--eval-interval", "2"]


# -------------------------------------------------------------------------- numerics
@pytest.mark.parametrize("temperature", [1e-307, 1e-320, 5e-324])
def test_a_temperature_so_small_the_softmax_underflows_is_greedy(temperature: float) -> None:
    logits = np.random.default_rng(0).normal(size=(8, 61)).astype(np.float32) * 30
    rng = np.random.default_rng(0)
    picked = sample_next_token(logits, temperature, None, rng)
    np.testing.assert_array_equal(picked, logits.argmax(axis=-1))
    np.testing.assert_array_equal(sample_next_token(logits, temperature, 5, rng), picked)


def test_generate_with_a_tiny_temperature_prints_the_greedy_text(
    run_copy: Callable[[], Path], cli
) -> None:
    run = str(run_copy())
    greedy = cli(
        "generate", run, "--prompt", "Once", "--temperature", "0", "--max-new-tokens", "40"
    )
    tiny = cli("generate", run, "--prompt", "Once", "--temperature", "1e-320",
               "--max-new-tokens", "40")  # fmt: skip
    assert tiny.code == 0 and tiny.err == ""
    assert tiny.out == greedy.out


def test_a_diverging_lr_prints_only_our_one_line(tmp_path: Path) -> None:
    """A real process with Python's default warning filters: NumPy's overflow warnings would
    print first unless the command silences them."""
    command = [sys.executable, "-W", "default", "-m", "tinytorch", *TRAIN[:3], "--lr", "1e6",
               "--out", str(tmp_path / "run")]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"tinytorch: error: training diverged at step 4: the gradient norm is nan; stopped. The "
        f"last good checkpoint (step 3) is in {tmp_path / 'run'} (try a lower --lr)"
    ]


# ---------------------------------------------------------------------------- texts
@pytest.fixture(scope="module")
def story() -> str:
    return generate_corpus(3000, seed=1).text


def _trained_on(run: Path) -> str:
    return json.loads((run / "config.json").read_text())["train"]["text_sha256"]


def test_text_from_a_pipe_is_read_once_and_trains(tmp_path: Path, story: str) -> None:
    run = tmp_path / "run"
    command = [sys.executable, "-m", "tinytorch", *TRAIN, "--text", "/dev/stdin", "--out", str(run)]
    done = subprocess.run(command, input=story, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _trained_on(run) == _sha(story)


def test_text_from_process_substitution_is_read_once_and_trains(tmp_path: Path, story: str) -> None:
    source, run = tmp_path / "story.txt", tmp_path / "run"
    source.write_text(story)
    tinytorch = " ".join([sys.executable, "-m", "tinytorch", *TRAIN])
    script = f'{tinytorch} --text <(cat "{source}") --out "{run}"'
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _trained_on(run) == _sha(story)


def test_resume_reads_the_same_text_from_its_new_path(tmp_path: Path, story: str, cli) -> None:
    old, new, run = tmp_path / "a.txt", tmp_path / "moved" / "b.txt", tmp_path / "run"
    old.write_text(story)
    assert cli(*TRAIN, "--text", str(old), "--out", str(run)).code == 0
    new.parent.mkdir()
    shutil.move(old, new)
    resumed = cli("train", "--out", str(run), "--resume", "--steps", "4", "--text", str(new))
    assert resumed.code == 0, resumed.err
    assert json.loads((run / "config.json").read_text())["train"]["text"] == str(new)
    new.write_text(story + " and more")
    cli("train", "--out", str(run), "--resume", "--steps", "6", "--text", str(new)).assert_error(
        f"cannot resume: {new} is not the text this run was trained on"
    )


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -------------------------------------------------------------------------- token ids
@pytest.mark.parametrize("big", [2**63, 2**64, 2**70, -(2**63) - 1])
def test_python_ints_beyond_int64_are_out_of_range_not_a_type_error(big: int) -> None:
    model = GPT(vocab_size=10, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=6)
    with pytest.raises(IndexOutOfRangeError, match=rf"token id {big} at position \(0, 1\)"):
        model([[1, big]])
    with pytest.raises(IndexOutOfRangeError, match=rf"token id {big} at position 1"):
        CharTokenizer("ab").decode([4, big])


# ----------------------------------------------------------------------------- matmul
@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ((2, 3), (4, 5), r"\(2, 3\) @ \(4, 5\).*last dimension \(3\).*second-to-last .*\(4\)"),
        ((3,), (4,), r"\(3,\) @ \(4,\).*last dimension \(3\).*first dimension \(4\)"),
        ((2, 3), (4,), r"\(2, 3\) @ \(4,\)"),
        ((5, 3), (2, 4, 5), r"\(5, 3\) @ \(2, 4, 5\)"),
        (
            (2, 2, 3),
            (3, 3, 4),
            r"\(2, 2, 3\) @ \(3, 3, 4\).*batch .*\(2,\) and \(3,\) do not broadcast",
        ),
    ],
)
@pytest.mark.parametrize("spelling", ["function", "operator", "reflected"])
def test_matmul_of_shapes_that_do_not_fit_names_both(
    a: tuple, b: tuple, message: str, spelling: str
) -> None:
    with pytest.raises(RuntimeError):  # the oracle refuses them too
        torch.zeros(a) @ torch.zeros(b)
    x, y = np.zeros(a, np.float32), np.zeros(b, np.float32)
    calls = {
        "function": lambda: F.matmul(x, y),
        "operator": lambda: Tensor(x) @ y,
        "reflected": lambda: x @ Tensor(y),
    }
    with pytest.raises(ValueError, match=rf"^matmul shapes {message}"):
        calls[spelling]()
