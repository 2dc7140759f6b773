"""Validation that represents the held-out text: which of its targets are scored, and in bits.

The held-out split (the last 10% of the text) is cut into windows of the model's block size T.
Each window after the first starts T - CONTEXT tokens after the one before and scores only its
last T - CONTEXT targets, so every target is scored exactly once and (but for the first window's)
with at least CONTEXT tokens before it, as a model generating text sees them. A last window
flush with the end of the split scores the targets the others left, so the *full* evaluation
covers every held-out token but the first (which has nothing before it).

A periodic evaluation may score a *sample* instead: whole windows, evenly spaced from the start
of the split to its end, about `eval_tokens` targets in all. It is deterministic (the same windows
every time), so successive evaluations compare the same text, and spread, so a run whose text
changes style half-way (documentation, a book) is not judged on its first pages.

Bits per character are the scored targets' total nats / ln 2 / the characters those targets
decode to, so char and BPE runs share a scale. (A byte-level BPE token may end inside a
multi-byte character; decoding a window's targets then counts that character in both windows,
at most one character per window.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.models.transformer import GPT
from tinytorch.text.tokenization import Tokenizer

IGNORED = -100  # the loss's ignore_index: a target of a window that is not scored


def context_tokens(block_size: int) -> int:
    """Tokens a window re-reads from the one before without scoring them: half the block."""
    return block_size // 2


@dataclass(frozen=True)
class HeldOutWindows:
    """Windows over the held-out ids: window i reads ids[starts[i] : starts[i] + T] and scores
    the targets ids[starts[i] + first_scored[i] + 1 : starts[i] + T + 1] (chars[i] characters)."""

    ids: np.ndarray
    block_size: int
    starts: np.ndarray
    first_scored: np.ndarray
    chars: np.ndarray

    @classmethod
    def covering(cls, ids: np.ndarray, block_size: int, tokenizer: Tokenizer) -> HeldOutWindows:
        """Windows that score every target of `ids` (ids[1:]) exactly once."""
        if len(ids) <= block_size:
            raise ValueError(f"{len(ids)} held-out tokens do not fill a window of {block_size}+1")
        context = context_tokens(block_size)
        last_start = len(ids) - 1 - block_size
        starts = list(range(0, last_start + 1, block_size - context))
        first_scored = [0] + [context] * (len(starts) - 1)
        covered_to = starts[-1] + block_size  # index of the last target scored so far
        if covered_to < len(ids) - 1:
            starts.append(last_start)
            first_scored.append(covered_to - last_start)
        chars = [
            len(tokenizer.decode(ids[start + first + 1 : start + block_size + 1]))
            for start, first in zip(starts, first_scored, strict=True)
        ]
        return cls(ids, block_size, np.array(starts), np.array(first_scored), np.array(chars))

    @property
    def num_targets(self) -> int:
        return int((self.block_size - self.first_scored).sum())

    @property
    def num_inputs(self) -> int:
        """Tokens a model reads to score the windows (what an evaluation's time goes by)."""
        return len(self.starts) * self.block_size

    def target_positions(self) -> np.ndarray:
        """Indices into `ids` of the scored targets, ascending."""
        return np.concatenate(
            [
                np.arange(start + first + 1, start + self.block_size + 1)
                for start, first in zip(self.starts, self.first_scored, strict=True)
            ]
        )

    def sample(self, tokens: int) -> HeldOutWindows:
        """About `tokens` targets' worth of windows evenly spread over the split (all if 0 or
        if that is most of them)."""
        per_window = self.block_size - context_tokens(self.block_size)
        count = math.ceil(tokens / per_window)
        if tokens == 0 or count >= len(self.starts):
            return self
        chosen = ((np.arange(count) + 0.5) * len(self.starts) / count).astype(np.int64)
        return HeldOutWindows(
            self.ids,
            self.block_size,
            self.starts[chosen],
            self.first_scored[chosen],
            self.chars[chosen],
        )


@dataclass(frozen=True)
class HeldOutScore:
    """Total negative log-likelihood of some held-out targets, and what it means per unit."""

    nats: float
    targets: int
    chars: int

    @property
    def loss(self) -> float:
        """Mean nats per target token (the training loss's unit)."""
        return self.nats / self.targets

    @property
    def bits_per_char(self) -> float:
        return self.nats / math.log(2) / self.chars


@no_grad()
def score_model(model: GPT, windows: HeldOutWindows, batch_size: int) -> HeldOutScore:
    """The model's score on the windows' targets, `batch_size` windows per forward pass."""
    was_training = model.training
    model.eval()
    offsets = np.arange(windows.block_size)
    nats = 0.0
    for i in range(0, len(windows.starts), batch_size):
        starts = windows.starts[i : i + batch_size, None] + offsets
        targets = windows.ids[starts + 1]
        targets[offsets < windows.first_scored[i : i + batch_size, None]] = IGNORED
        _, loss = model(windows.ids[starts], targets)  # the mean over the scored targets
        nats += loss.item() * int((targets != IGNORED).sum())
    model.train(was_training)
    return HeldOutScore(nats, windows.num_targets, int(windows.chars.sum()))


def score_log_probs(log_probs: np.ndarray, windows: HeldOutWindows) -> HeldOutScore:
    """The score of per-token natural-log probabilities of `windows.ids` (e.g. an n-gram
    model's `token_log_probs`) on the same targets a model is scored on."""
    nats = -float(log_probs[windows.target_positions()].sum())
    return HeldOutScore(nats, windows.num_targets, int(windows.chars.sum()))
