"""Property-based fuzzing of the tokenizers, beyond what tests/10_tokenization covers.

That module fuzzes round trips of text made from the alphabet (char), of any text (BPE) and
the decoding of valid BPE ids. Added here: char text with characters outside the alphabet,
decoding arbitrary id arrays (any integer dtype, valid or not) for both tokenizers, and save/load
round trips of tokenizers trained on random text.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch.core.errors import IndexOutOfRangeError
from tinytorch.text.tokenization import BPETokenizer, CharTokenizer, Tokenizer

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
ANY_CHAR = st.characters(codec=None)  # every code point, lone surrogates included


@settings(max_examples=100, deadline=None)
@given(alphabet=st.text(ANY_CHAR, max_size=12), text=st.text(ANY_CHAR, max_size=40))
def test_char_text_outside_the_alphabet_keeps_positions(alphabet: str, text: str) -> None:
    tokenizer = CharTokenizer(alphabet)
    ids = tokenizer.encode(text)
    assert len(ids) == len(text)  # one id per character, unknown ones included
    for ch, i in zip(text, ids, strict=True):
        assert i == (
            tokenizer.unk_id if ch not in alphabet else 4 + sorted(set(alphabet)).index(ch)
        )
    expected = "".join(ch if ch in alphabet else "\ufffd" for ch in text)
    assert tokenizer.decode(ids) == expected


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    return BPETokenizer.train("the cat sat on the mat; the dog sat on the log. " * 8, 256 + 24 + 4)


def _rendered(tokenizer: Tokenizer, token_id: int) -> bytes:
    """What one id stands for, built independently of `decode` (bytes, merges, special names)."""
    if isinstance(tokenizer, CharTokenizer):
        names = ["<pad>", "<unk>", "<bos>", "<eos>"]
        text = names[token_id] if token_id < 4 else tokenizer.chars[token_id - 4]
        return text.encode("utf-8", "surrogatepass")
    specials = {i: name for name, i in tokenizer.special_tokens.items()}
    if token_id in specials:
        return specials[token_id].encode("utf-8")
    if token_id < 256:
        return bytes([token_id])
    a, b = tokenizer.merges[token_id - 256]
    return _rendered(tokenizer, a) + _rendered(tokenizer, b)


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(["char", "bpe"]), dtype=st.sampled_from(INT_DTYPES), data=st.data())
def test_decoding_arbitrary_id_arrays(bpe: BPETokenizer, kind: str, dtype: type, data) -> None:
    """Valid ids decode to exactly their tokens; any invalid id raises, naming the first one."""
    tokenizer = bpe if kind == "bpe" else CharTokenizer("abc xyz\n")
    n = tokenizer.vocab_size
    limits = np.iinfo(dtype)
    valid = st.integers(0, min(n, int(limits.max) + 1) - 1)
    anything = st.integers(int(limits.min), int(limits.max))
    values = data.draw(st.sampled_from([valid, st.one_of(valid, anything)]))
    ids = data.draw(hnp.arrays(dtype, st.integers(0, 30), elements=values))
    bad = np.flatnonzero((ids.astype(object) < 0) | (ids.astype(object) >= n))
    if bad.size == 0:
        rendered = b"".join(_rendered(tokenizer, int(i)) for i in ids)
        errors = "surrogatepass" if kind == "char" else "replace"
        assert tokenizer.decode(ids, skip_special_tokens=False) == rendered.decode("utf-8", errors)
        return
    with pytest.raises(IndexOutOfRangeError) as info:
        tokenizer.decode(ids)
    first = bad[0]
    assert f"token id {ids[first]} at position {first} is out of range [0, {n})" in str(info.value)


@settings(max_examples=25, deadline=None)
@given(
    corpus=st.text(max_size=60),
    merges=st.integers(0, 20),
    pattern=st.sampled_from([None, "gpt2", "gpt4"]),
    probe=st.text(max_size=30),
)
def test_trained_bpe_survives_save_and_load(corpus, merges, pattern, probe) -> None:
    tokenizer = BPETokenizer.train(corpus, 256 + merges + 4, pattern=pattern)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "tokenizer.json"
        tokenizer.save(path)
        loaded = Tokenizer.load(path)
    assert isinstance(loaded, BPETokenizer) and loaded.pattern == pattern
    assert loaded.merges == tokenizer.merges
    assert loaded.special_tokens == tokenizer.special_tokens
    for text in (corpus, probe):
        assert loaded.encode(text) == tokenizer.encode(text)
        assert loaded.decode(loaded.encode(text)) == text


@settings(max_examples=50, deadline=None)
@given(alphabet=st.text(ANY_CHAR, max_size=30), probe=st.text(ANY_CHAR, max_size=30))
def test_char_tokenizer_survives_save_and_load(alphabet: str, probe: str) -> None:
    tokenizer = CharTokenizer.from_text(alphabet)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "tokenizer.json"
        tokenizer.save(path)
        loaded = CharTokenizer.load(path)
    assert loaded.chars == tokenizer.chars
    assert loaded.encode(alphabet + probe) == tokenizer.encode(alphabet + probe)
