import dataclasses

import numpy as np
import pytest

from tinytorch.text.tokenization import BPETokenizer, CharTokenizer, Encoding

TEXTS = ["hello", "hi", "", "hello world"]


@pytest.fixture(scope="module", params=["char", "bpe"])
def tok(request):
    corpus = "hello world, hi there\n" * 10
    if request.param == "char":
        return CharTokenizer.from_text(corpus)
    return BPETokenizer.train(corpus, 256 + 10 + 4)


def test_longest_padding_builds_int64_ids_and_bool_mask(tok):
    enc = tok.encode_batch(TEXTS)
    expected = [tok.encode(t) for t in TEXTS]
    width = max(len(e) for e in expected)
    assert isinstance(enc, Encoding)
    assert enc.ids.dtype == np.int64 and enc.ids.shape == (4, width)
    assert enc.attention_mask.dtype == np.bool_ and enc.attention_mask.shape == (4, width)
    assert enc.lengths.dtype == np.int64 and enc.lengths.tolist() == [len(e) for e in expected]
    for row, ids in enumerate(expected):
        assert enc.ids[row, : len(ids)].tolist() == ids
        assert (enc.ids[row, len(ids) :] == tok.pad_id).all()
        assert enc.attention_mask[row].tolist() == [True] * len(ids) + [False] * (width - len(ids))
        assert tok.decode(enc.ids[row][enc.attention_mask[row]]) == TEXTS[row]
    assert (tok.encode_batch(TEXTS, padding=True).ids == enc.ids).all()  # HuggingFace alias


def test_encoding_is_frozen(tok):
    enc = tok.encode_batch(["hi"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        enc.ids = np.zeros((1, 1), dtype=np.int64)


def test_max_length_padding_and_bos_eos(tok):
    enc = tok.encode_batch(
        ["hi", "hello"], max_length=12, padding="max_length", add_bos=True, add_eos=True
    )
    assert enc.ids.shape == (2, 12)
    hi = tok.encode("hi")
    assert enc.ids[0, : len(hi) + 2].tolist() == [tok.bos_id, *hi, tok.eos_id]
    assert enc.lengths[0] == len(hi) + 2
    assert enc.attention_mask.sum(axis=1).tolist() == enc.lengths.tolist()


def test_too_long_without_truncation_raises_naming_text_and_lengths(tok):
    n = len(tok.encode("hello world"))
    with pytest.raises(ValueError) as info:
        tok.encode_batch(["hi", "hello world"], max_length=n - 1)
    message = str(info.value)
    assert "text 1" in message and f"{n} tokens" in message and f"max_length={n - 1}" in message
    assert "truncation=True" in message


def test_truncation_keeps_the_first_tokens_and_the_special_tokens(tok):
    full = tok.encode("hello world")
    enc = tok.encode_batch(
        ["hello world", "hi"], max_length=4, truncation=True, add_bos=True, add_eos=True
    )
    assert enc.ids.shape == (2, 4)
    assert enc.ids[0].tolist() == [tok.bos_id, *full[:2], tok.eos_id]


def test_padding_false_requires_equal_lengths(tok):
    enc = tok.encode_batch(["hello", "hello"], padding=False)
    assert enc.attention_mask.all() and enc.ids.shape == (2, len(tok.encode("hello")))
    with pytest.raises(ValueError, match="padding=False needs equal lengths.*text 1"):
        tok.encode_batch(["hello", "hello hi world"], padding=False)


def test_argument_errors(tok):
    with pytest.raises(ValueError, match="needs max_length"):
        tok.encode_batch(["hi"], padding="max_length")
    with pytest.raises(ValueError, match="needs max_length"):
        tok.encode_batch(["hi"], truncation=True)
    with pytest.raises(ValueError, match="padding must be"):
        tok.encode_batch(["hi"], padding="left")
    with pytest.raises(ValueError, match="no room"):
        tok.encode_batch(["hi"], max_length=1, truncation=True, add_bos=True, add_eos=True)
    with pytest.raises(TypeError, match="single str"):
        tok.encode_batch("hi")


def test_empty_batch(tok):
    enc = tok.encode_batch([])
    assert enc.ids.shape == (0, 0) and enc.ids.dtype == np.int64
    assert enc.attention_mask.shape == (0, 0) and enc.lengths.shape == (0,)
    assert tok.encode_batch([], max_length=5, padding="max_length").ids.shape == (0, 5)
