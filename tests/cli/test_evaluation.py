"""Validation represents the held-out split, and the n-gram baseline is scored on the same tokens.

The windows of `tinytorch.evaluation` must score every held-out target exactly once (with at
least half a block of context past the first window), `score_model` must add up what PyTorch's
cross-entropy gives for the scored positions, and a periodic sample must stay within 0.02
bits/char of the full evaluation on a real text we did not write (Python's own documentation)
and on the built-in corpus. A run prints and stores the baseline that `NGramModel` gives on the
held-out tokens, and its last evaluation scores all of them.
"""

from __future__ import annotations

import math
import pydoc_data.topics
import re
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.image import imread

import tinytorch
from tinytorch.data import generate_corpus
from tinytorch.evaluation import HeldOutWindows, context_tokens, score_log_probs, score_model
from tinytorch.loss_plot import loss_plot_png
from tinytorch.models.ngram import NGramModel
from tinytorch.models.transformer import GPT
from tinytorch.run_directory import load_run
from tinytorch.text.tokenization import BPETokenizer, CharTokenizer, Tokenizer
from tinytorch.train_config import EVAL_TOKENS
from tinytorch.training_data import VAL_FRACTION


def _char_windows(length: int, block_size: int) -> HeldOutWindows:
    text = "".join(chr(97 + i % 26) for i in range(length))
    tokenizer = CharTokenizer.from_text(text)
    return HeldOutWindows.covering(tokenizer.encode_array(text), block_size, tokenizer)


@pytest.mark.parametrize(("length", "block_size"), [(17, 16), (65, 16), (100, 16), (1001, 64)])
def test_windows_score_every_target_once_with_context(length: int, block_size: int) -> None:
    windows = _char_windows(length, block_size)
    positions = windows.target_positions()
    np.testing.assert_array_equal(positions, np.arange(1, length))  # each once, in order
    assert windows.num_targets == length - 1 and windows.chars.sum() == length - 1
    assert windows.num_inputs == len(windows.starts) * block_size
    assert (windows.starts >= 0).all() and (windows.starts + block_size < length).all()
    # past the first window, a scored target has at least half a block before it in its window
    assert (windows.first_scored[1:] >= block_size // 2).all()


def test_a_sample_is_deterministic_spread_over_the_split_and_sized_as_asked() -> None:
    windows = _char_windows(100_001, 64)
    sample = windows.sample(4096)
    again = windows.sample(4096)
    np.testing.assert_array_equal(sample.starts, again.starts)
    per_window = 64 - context_tokens(64)
    assert 4096 <= sample.num_targets < 4096 + per_window + 64
    gap = 100_000 / len(sample.starts)
    assert sample.starts[0] < gap and sample.starts[-1] > 100_000 - gap  # first and last part
    assert np.diff(sample.starts).max() < 1.5 * gap  # no stretch of the split left out
    assert windows.sample(0) is windows and windows.sample(10**9) is windows


def test_score_model_matches_torch_cross_entropy_on_the_scored_targets() -> None:
    windows = _char_windows(300, 16)
    tinytorch.manual_seed(0)
    model = GPT(windows.ids.max() + 1, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=16)
    score = score_model(model, windows, batch_size=4)  # several batches, the last one short
    expected = 0.0
    for start, first in zip(windows.starts, windows.first_scored, strict=True):
        logits = torch.from_numpy(model(windows.ids[None, start : start + 16]).data[0])
        targets = torch.from_numpy(windows.ids[start + 1 : start + 17])
        expected += torch.nn.functional.cross_entropy(
            logits[first:].double(), targets[first:], reduction="sum"
        ).item()
    assert score.targets == 299 and score.chars == 299
    assert score.nats == pytest.approx(expected, rel=1e-5)
    assert score.loss == pytest.approx(expected / 299, rel=1e-5)
    assert score.bits_per_char == pytest.approx(expected / math.log(2) / 299, rel=1e-5)
    assert model.training  # the mode is restored


def _pydoc_text() -> str:
    return "\n\n".join(pydoc_data.topics.topics.values())


def _split(text: str) -> tuple[str, str]:
    cut = int(len(text) * (1 - VAL_FRACTION))
    return text[:cut], text[cut:]


@pytest.fixture(scope="module")
def held_out_log_probs() -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray, Tokenizer]]:
    """(text, tokenizer kind) -> held-out ids, their n-gram log-probs, the tokenizer.

    The n-gram model fitted on the training part is a real model of the text: its scores vary
    over the split as a network's do.
    """
    texts = {
        "python documentation": _split(_pydoc_text()),
        "built-in corpus": generate_corpus(1_000_000, seed=0).split(VAL_FRACTION),
    }
    scored = {}
    for name, (train_text, val_text) in texts.items():
        tokenizers = {
            "char": CharTokenizer.from_text(train_text + val_text),
            "bpe": BPETokenizer.train(train_text, 1024),
        }
        for kind, tokenizer in tokenizers.items():
            val_ids = tokenizer.encode_array(val_text)
            model = NGramModel.fit(tokenizer.encode_array(train_text), tokenizer.vocab_size)
            scored[name, kind] = val_ids, model.token_log_probs(val_ids), tokenizer
    return scored


@pytest.mark.parametrize("text_name", ["python documentation", "built-in corpus"])
@pytest.mark.parametrize("tokenizer_kind", ["char", "bpe"])
@pytest.mark.parametrize("block_size", [64, 256])
def test_the_default_sample_is_within_0_02_bits_per_char_of_the_full_evaluation(
    held_out_log_probs, text_name: str, tokenizer_kind: str, block_size: int
) -> None:
    val_ids, log_probs, tokenizer = held_out_log_probs[text_name, tokenizer_kind]
    windows = HeldOutWindows.covering(val_ids, block_size, tokenizer)
    full = score_log_probs(log_probs, windows).bits_per_char
    sample = windows.sample(EVAL_TOKENS)
    assert abs(score_log_probs(log_probs, sample).bits_per_char - full) < 0.02
    if text_name == "python documentation" and sample is not windows:
        # as many targets from the start of the split (the old evaluation) miss by far more
        count = len(sample.starts)
        first = HeldOutWindows(
            val_ids, block_size, windows.starts[:count], windows.first_scored[:count],
            windows.chars[:count],
        )  # fmt: skip
        assert abs(score_log_probs(log_probs, first).bits_per_char - full) > 0.1


def test_a_run_prints_and_stores_the_baseline_of_the_same_held_out_tokens(
    tmp_path: Path, train_test_run, metrics
) -> None:
    result = train_test_run(tmp_path, "--steps", "4", "--eval-interval", "2")
    train_text, val_text = generate_corpus(20_000, seed=0).split(VAL_FRACTION)
    tokenizer = CharTokenizer.from_text(train_text + val_text)
    val_ids = tokenizer.encode_array(val_text)
    model = NGramModel.fit(tokenizer.encode_array(train_text), tokenizer.vocab_size)
    # every held-out character but the first is a target, each one character
    expected = -model.token_log_probs(val_ids)[1:].sum() / math.log(2) / (len(val_ids) - 1)

    printed = re.search(
        r"n-gram baseline \(order 12, Kneser-Ney\): (\d\.\d+) bits/char on the held-out text",
        result.out,
    )
    assert printed is not None, result.out
    assert float(printed.group(1)) == round(expected, 3)
    evaluations = [r for r in metrics(tmp_path) if "val_loss" in r]
    assert len(evaluations) == 2
    for record in evaluations:
        assert record["baseline_bits_per_char"] == pytest.approx(expected, rel=1e-12)
    assert f"n-gram baseline {expected:.3f}" in result.out.splitlines()[-1]  # the final line


def test_the_last_evaluation_scores_the_whole_held_out_split(
    tmp_path: Path, train_test_run, metrics
) -> None:
    train_test_run(tmp_path, "--steps", "4", "--eval-interval", "2", "--eval-tokens", "64")
    records = [r for r in metrics(tmp_path) if "val_loss" in r]
    model, tokenizer, config = load_run(tmp_path)
    val_text = generate_corpus(20_000, seed=0).split(VAL_FRACTION)[1]
    windows = HeldOutWindows.covering(tokenizer.encode_array(val_text), 16, tokenizer)
    full = score_model(model, windows, config.train.batch_size)
    assert records[-1]["step"] == 4 and records[-1]["val_tokens"] == len(val_text) - 1
    assert records[-1]["val_loss"] == pytest.approx(full.loss, rel=1e-6)
    assert records[-1]["val_bits_per_char"] == pytest.approx(full.bits_per_char, rel=1e-6)
    assert "val_tokens" not in records[0]  # the periodic one scored a sample


def test_loss_plot_draws_the_baseline_when_given() -> None:
    records = [{"step": s, "train_loss": 2.0 / s, "val_bits_per_char": 3.0 / s} for s in (1, 2)]

    def red_pixels(baseline: float | None) -> int:
        r, g, b = imread(BytesIO(loss_plot_png(records, 1.0, 0.3, baseline)))[..., :3].T
        return int(((r > 0.6) & (g < 0.45) & (b < 0.45)).sum())  # the line is tab:red

    assert red_pixels(None) == 0 and red_pixels(1.0) > 100
