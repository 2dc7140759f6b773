"""BPE with any numbering: byte ids, merge ids and special ids chosen freely, gaps allowed.

The oracle is the default numbering: renumbering a tokenizer must renumber its ids and change
nothing else.
"""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.text.bpe_ids import MAX_VOCAB_SIZE
from tinytorch.text.tokenization import BPETokenizer, Tokenizer

CORPUS = (
    "The quick brown fox jumps over the lazy dog. Numbers like 12345 and contractions it's, "
    "we'll: naïve café, 日本語のテキスト, emoji 🙂👍🏽.\n"
) * 20


@pytest.fixture(scope="module")
def trained() -> BPETokenizer:
    return BPETokenizer.train(CORPUS, 256 + 80 + 4, pattern="gpt2")


def renumbered(tokenizer: BPETokenizer, seed: int, gaps: int = 0) -> tuple[BPETokenizer, list]:
    """The same tokenizer with its ids shuffled into [0, vocab_size + gaps); and the map."""
    new = random.Random(seed).sample(range(tokenizer.vocab_size + gaps), tokenizer.vocab_size)
    merges = [(new[a], new[b]) for a, b in tokenizer.merges]
    specials = {name: new[i] for name, i in tokenizer.special_tokens.items()}
    again = BPETokenizer(
        merges,
        specials,
        tokenizer.pattern,
        byte_ids=[new[b] for b in range(256)],
        merge_ids=[new[i] for i in tokenizer.merge_ids],
    )
    return again, new


@settings(max_examples=100, deadline=None)
@given(
    text=st.text(max_size=60) | st.text(alphabet="the fox<eos><pad> 12'", max_size=60),
    seed=st.integers(0, 2**32),
    gaps=st.integers(0, 50),
)
def test_renumbering_renumbers_the_ids_and_nothing_else(trained, text, seed, gaps):
    again, new = renumbered(trained, seed, gaps)
    for allowed in ((), "all"):
        ids = again.encode(text, allowed_special=allowed)
        assert ids == [new[i] for i in trained.encode(text, allowed_special=allowed)]
        assert again.decode(ids) == text
        assert again.decode(ids, skip_special_tokens=True) == trained.decode(
            trained.encode(text, allowed_special=allowed), skip_special_tokens=True
        )
    assert again.vocab_size == max(new) + 1
    assert (again.pad_id, again.eos_id) == (new[trained.pad_id], new[trained.eos_id])


def test_gap_ids_count_in_the_vocabulary_but_cannot_be_decoded(trained):
    again, new = renumbered(trained, seed=1, gaps=10)
    gap = min(set(range(again.vocab_size)) - set(new))
    with pytest.raises(ValueError, match=f"token id {gap} at position 1 has no token: it is a gap"):
        again.decode([new[97], gap])
    with pytest.raises(ValueError, match="gap"):
        again.decode_bytes([gap])
    assert again.decode_bytes([new[0xE6], new[0x97]]) == b"\xe6\x97"  # half a character


def test_two_merges_may_make_the_same_token():
    # Hugging Face's trainer does this: "abc" from ab+c and from a+bc, one id.
    tokenizer = BPETokenizer(
        [(97, 98), (300, 99), (98, 99), (97, 302)],
        {"<pad>": 303},
        None,
        merge_ids=[300, 301, 302, 301],
    )
    assert tokenizer.encode("abc") == [301] and tokenizer.decode([301]) == "abc"
    assert tokenizer.merge_ids == [300, 301, 302, 301] and tokenizer.vocab_size == 304
    with pytest.raises(ValueError, match=r"creates id 301 as b'bcb', but that id is already"):
        BPETokenizer([(97, 98), (300, 99), (98, 99), (302, 98)], merge_ids=[300, 301, 302, 301])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"byte_ids": range(255)}, "byte_ids must give the ids of the 256 bytes, got 255 ids"),
        ({"byte_ids": [0] * 256}, "byte_ids gives bytes 0 and 1 the same id"),
        ({"byte_ids": [-1, *range(1, 256)]}, r"byte_ids\[0\] is -1, outside the ids allowed"),
        ({"byte_ids": [1.0, *range(1, 256)]}, r"byte_ids\[0\] must be an integer id, got 1.0"),
        ({"merge_ids": []}, "merge_ids has 0 ids for 1 merges"),
        ({"merge_ids": [5]}, r"creates id 5 as b'ab', but that id is already the token b'\\x05'"),
        ({"merge_ids": [MAX_VOCAB_SIZE]}, "the id merge 0 creates is 4194304, outside the ids"),
        ({"special_tokens": {"<pad>": 256}}, "special token '<pad>' has id 256, which is the"),
        ({"special_tokens": {"<a>": 300, "<b>": 300}}, "special tokens '<a>' and '<b>' share id"),
        ({"special_tokens": {"<a>": 2**40}}, "the id of special token '<a>' is 1099511627776"),
        ({"special_tokens": {"": 300}}, "special tokens must be non-empty strings"),
        ({"roles": {"mask": "<pad>"}}, r"unknown role 'mask'; roles are \['pad', 'bos', 'eos'\]"),
        ({"roles": {"eos": "</s>"}}, "role 'eos' names '</s>', which is not a special token"),
    ],
)
def test_inconsistent_tables_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BPETokenizer([(97, 98)], **kwargs)


def test_special_tokens_as_a_mapping_need_no_pad():
    tokenizer = BPETokenizer([(97, 98)], {"<|endoftext|>": 300}, roles={"eos": "<|endoftext|>"})
    assert tokenizer.vocab_size == 301 and tokenizer.pad_id is None and tokenizer.eos_id == 300
    assert tokenizer.encode_batch(["ab", "ab"]).ids.tolist() == [[256], [256]]
    with pytest.raises(ValueError, match="has no pad token"):
        tokenizer.encode_batch(["ab", "aa"])


def test_files_of_trained_tokenizers_stay_version_1_and_others_are_version_2(trained, tmp_path):
    path = tmp_path / "tokenizer.json"
    trained.save(path)
    assert json.loads(path.read_text())["version"] == 1
    again, _ = renumbered(trained, seed=2, gaps=3)
    again = BPETokenizer(
        again.merges,
        again.special_tokens,
        again.pattern,
        byte_ids=again.byte_ids,
        merge_ids=again.merge_ids,
        roles={"bos": "<eos>"},
    )
    again.save(path)
    data = json.loads(path.read_text())
    assert data["version"] == 2 and data["roles"]["bos"] == "<eos>"
    loaded = Tokenizer.load(path)
    assert (loaded.byte_ids, loaded.merges, loaded.merge_ids, loaded.special_tokens) == (
        again.byte_ids,
        again.merges,
        again.merge_ids,
        again.special_tokens,
    )
    assert (loaded.roles, loaded.vocab_size, loaded.bos_id) == (
        again.roles,
        again.vocab_size,
        again.special_tokens["<eos>"],
    )
    assert loaded.encode(CORPUS, allowed_special="all") == again.encode(CORPUS, "all")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("byte_ids"), "'byte_ids' and 'merge_ids' must be lists of ids"),
        (lambda d: d["byte_ids"].pop(), "byte_ids must give the ids of the 256 bytes"),
        (lambda d: d.update(roles=[]), "'roles' must be an object"),
        (lambda d: d["merge_ids"].__setitem__(0, "x"), "must be an integer id, got 'x'"),
    ],
)
def test_inconsistent_version_2_files_are_refused(trained, tmp_path, edit, message):
    path = tmp_path / "tokenizer.json"
    renumbered(trained, seed=3)[0].save(path)
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message) as info:
        BPETokenizer.load(path)
    assert str(path) in str(info.value)
