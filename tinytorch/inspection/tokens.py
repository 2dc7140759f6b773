"""How a tokenizer cuts text: readable token labels, a prompt's tokens, statistics on a text.

Labels are for people looking at plots: a space is drawn as a visible box and a newline as
`\\n`, so that " ", "\\n" and "" do not all look like nothing, and a BPE piece that is only part
of a character shows its bytes (`\\xe2`) instead of a replacement character.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinytorch.text.bpe import BPETokenizer
from tinytorch.text.tokenizer_base import Tokenizer, check_text

VISIBLE_SPACE = "\u2423"  # ␣
_ESCAPES = {" ": VISIBLE_SPACE, "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def token_label(tokenizer: Tokenizer, token_id: int) -> str:
    """A readable name for one id: `<eos>`, `␣the`, `\\n`, `\\xe2` (a byte of a character)."""
    if token_id in tokenizer.special_tokens.values():
        return tokenizer.decode([token_id], skip_special_tokens=False)
    if isinstance(tokenizer, BPETokenizer):
        text = tokenizer.decode_bytes([token_id]).decode("utf-8", errors="backslashreplace")
    else:
        text = tokenizer.decode([token_id], skip_special_tokens=False)
    return "".join(_ESCAPES.get(ch, ch if ch.isprintable() else ascii(ch)[1:-1]) for ch in text)


def vocabulary_labels(tokenizer: Tokenizer) -> list[str]:
    """`token_label` of every id, in id order."""
    return [token_label(tokenizer, i) for i in range(tokenizer.vocab_size)]


@dataclass(frozen=True)
class TokenizedText:
    """A text with its token ids (int64) and the readable label of each token."""

    text: str
    ids: np.ndarray
    tokens: list[str]


def tokenize(tokenizer: Tokenizer, text: str) -> TokenizedText:
    ids = tokenizer.encode_array(text)
    return TokenizedText(text, ids, [token_label(tokenizer, i) for i in ids.tolist()])


@dataclass(frozen=True)
class TokenizationStats:
    """How a tokenizer fares on a text.

    `vocab_use` is the share of the vocabulary the text uses (distinct ids / vocab size);
    `unknown_chars` are the characters that encode to `<unk>` (a char tokenizer's alphabet
    lacks them; byte-level BPE has none); `most_frequent` holds (id, label, count), most
    frequent first, ties by lower id; `counts` is every id's count, int64 (vocab_size,).
    """

    num_chars: int
    num_tokens: int
    chars_per_token: float
    distinct_ids: int
    vocab_size: int
    vocab_use: float
    unknown_tokens: int
    unknown_share: float
    unknown_chars: list[str]
    most_frequent: list[tuple[int, str, int]]
    counts: np.ndarray


def most_frequent_ids(counts: np.ndarray, n: int, exclude: set[int] | None = None) -> np.ndarray:
    """The n ids with the highest counts (ties by lower id), skipping `exclude` and unused ids."""
    order = np.argsort(-counts, kind="stable")
    skip = exclude or set()
    return np.array([i for i in order.tolist() if counts[i] > 0 and i not in skip][:n], np.int64)


def unknown_characters(tokenizer: Tokenizer, text: str) -> list[str]:
    """The distinct characters of `text` that become `<unk>` (each encoded on its own), sorted."""
    unk = tokenizer.unk_id
    return [] if unk is None else sorted(ch for ch in set(text) if tokenizer.encode(ch) == [unk])


def tokenization_stats(tokenizer: Tokenizer, text: str, top: int = 10) -> TokenizationStats:
    check_text(text)
    if not text:
        raise ValueError("text must not be empty: statistics need at least one character")
    counts = np.bincount(tokenizer.encode_array(text), minlength=tokenizer.vocab_size)
    num_tokens = int(counts.sum())
    unk = tokenizer.unk_id
    unknown = int(counts[unk]) if unk is not None else 0
    unknown_chars = unknown_characters(tokenizer, text) if unknown else []
    distinct = int(np.count_nonzero(counts))
    return TokenizationStats(
        num_chars=len(text),
        num_tokens=num_tokens,
        chars_per_token=len(text) / num_tokens,
        distinct_ids=distinct,
        vocab_size=tokenizer.vocab_size,
        vocab_use=distinct / tokenizer.vocab_size,
        unknown_tokens=unknown,
        unknown_share=unknown / num_tokens,
        unknown_chars=unknown_chars,
        most_frequent=[
            (i, token_label(tokenizer, i), int(counts[i]))
            for i in most_frequent_ids(counts, top).tolist()
        ],
        counts=counts,
    )
