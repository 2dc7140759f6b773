"""Token labels, a prompt's tokens and tokenization statistics, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.inspection import token_label, tokenization_stats, tokenize, vocabulary_labels
from tinytorch.text.tokenization import BPETokenizer, CharTokenizer


def test_char_statistics_by_hand() -> None:
    tokenizer = CharTokenizer("abc")  # <pad>=0 <unk>=1 <bos>=2 <eos>=3 a=4 b=5 c=6
    stats = tokenization_stats(tokenizer, "abab c", top=10)
    # ids: a b a b <unk> c
    assert (stats.num_chars, stats.num_tokens, stats.chars_per_token) == (6, 6, 1.0)
    assert (stats.distinct_ids, stats.vocab_size) == (4, 7)
    assert stats.vocab_use == pytest.approx(4 / 7)
    assert (stats.unknown_tokens, stats.unknown_chars) == (1, [" "])
    assert stats.unknown_share == pytest.approx(1 / 6)
    assert stats.most_frequent == [(4, "a", 2), (5, "b", 2), (1, "<unk>", 1), (6, "c", 1)]
    assert stats.counts.tolist() == [0, 1, 0, 0, 2, 2, 1]


def test_bpe_statistics_by_hand() -> None:
    tokenizer = BPETokenizer.train("aaaa", 261)  # one merge: "aa" = 256; specials 257..260
    assert tokenizer.merges == [(97, 97)]
    stats = tokenization_stats(tokenizer, "aaaaa b", top=3)
    # chunks "aaaaa" -> aa aa a and " b" -> ' ' b: 5 tokens for 7 characters
    assert (stats.num_chars, stats.num_tokens) == (7, 5)
    assert stats.chars_per_token == pytest.approx(1.4)
    assert (stats.distinct_ids, stats.vocab_size) == (4, 261)
    assert stats.vocab_use == pytest.approx(4 / 261)
    assert (stats.unknown_tokens, stats.unknown_share, stats.unknown_chars) == (0, 0.0, [])
    assert stats.most_frequent == [(256, "aa", 2), (32, "\u2423", 1), (97, "a", 1)]


def test_statistics_refuse_an_empty_text() -> None:
    with pytest.raises(ValueError, match="text must not be empty"):
        tokenization_stats(CharTokenizer("ab"), "")


def test_labels_make_whitespace_specials_and_partial_characters_visible() -> None:
    char = CharTokenizer(" \n\tab$\x07")
    labels = {
        char.decode([i], skip_special_tokens=False): label
        for i, label in enumerate(vocabulary_labels(char))
    }
    assert labels == {
        "<pad>": "<pad>",
        "<unk>": "<unk>",
        "<bos>": "<bos>",
        "<eos>": "<eos>",
        " ": "\u2423",
        "\n": "\\n",
        "\t": "\\t",
        "a": "a",
        "b": "b",
        "$": "$",
        "\x07": "\\x07",
    }
    bpe = BPETokenizer.train(" the the the €", 263)  # 3 merges spell " the"
    euro = "€".encode()
    assert token_label(bpe, euro[0]) == "\\xe2"  # one byte of a three-byte character
    assert token_label(bpe, bpe.vocab_size - 1) == "<eos>"
    the = bpe.encode(" the")
    assert len(the) == 1 and token_label(bpe, the[0]) == "\u2423the"


def test_tokenize_gives_ids_and_labels() -> None:
    tokenizer = CharTokenizer("ab ")
    tokens = tokenize(tokenizer, "ab a")
    assert tokens.text == "ab a" and tokens.ids.dtype == np.int64
    assert tokens.ids.tolist() == tokenizer.encode("ab a")
    assert tokens.tokens == ["a", "b", "\u2423", "a"]
