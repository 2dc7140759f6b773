import json
import os

import numpy as np
import pytest

from tinytorch.text.tokenization import BPETokenizer, CharTokenizer, Tokenizer

CORPUS = "Tokenizers turn text into ids. 日本語 too, and emoji 🙂!\n" * 20
SAMPLES = ["Tokenizers turn text into ids.", "unseen words ✓ <eos>", "", "日本語 🙂\n"]


@pytest.fixture(scope="module")
def char_tok():
    return CharTokenizer.from_text(CORPUS)


@pytest.fixture(scope="module")
def bpe_tok():
    return BPETokenizer.train(CORPUS, 256 + 30 + 4, pattern="gpt2")


def saved(tok, tmp_path, name="tok.json"):
    path = tmp_path / name
    tok.save(path)
    return path


def rewrite(path, edit):
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize("name", ["char_tok", "bpe_tok"])
def test_save_load_round_trip_gives_identical_encodings(name, request, tmp_path):
    tok = request.getfixturevalue(name)
    path = saved(tok, tmp_path)
    for loaded in (type(tok).load(path), Tokenizer.load(path)):
        assert type(loaded) is type(tok)
        assert loaded.vocab_size == tok.vocab_size
        assert loaded.special_tokens == tok.special_tokens
        for text in SAMPLES:
            assert loaded.encode(text) == tok.encode(text)
        enc_a, enc_b = tok.encode_batch(SAMPLES), loaded.encode_batch(SAMPLES)
        assert np.array_equal(enc_a.ids, enc_b.ids)
        assert np.array_equal(enc_a.attention_mask, enc_b.attention_mask)
    every_id = list(range(tok.vocab_size))
    assert Tokenizer.load(path).decode(every_id) == tok.decode(every_id)


def test_bpe_file_keeps_pattern_and_specials(bpe_tok, tmp_path):
    loaded = BPETokenizer.load(saved(bpe_tok, tmp_path))
    assert loaded.pattern == "gpt2"
    assert loaded.merges == bpe_tok.merges
    assert loaded.encode("a<eos>", allowed_special="all")[-1] == bpe_tok.eos_id


def test_file_is_versioned_json(char_tok, bpe_tok, tmp_path):
    for tok, kind in ((char_tok, "char"), (bpe_tok, "bpe")):
        data = json.loads(saved(tok, tmp_path).read_text(encoding="utf-8"))
        assert (data["format"], data["version"], data["type"]) == ("tinytorch.tokenizer", 1, kind)


def test_save_is_atomic_and_overwrites(char_tok, bpe_tok, tmp_path):
    path = saved(char_tok, tmp_path)
    bpe_tok.save(path)
    assert os.listdir(tmp_path) == ["tok.json"]  # no temp file left behind
    assert isinstance(Tokenizer.load(path), BPETokenizer)
    with pytest.raises(FileNotFoundError):
        char_tok.save(tmp_path / "missing_dir" / "tok.json")
    assert os.listdir(tmp_path) == ["tok.json"]


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        Tokenizer.load(tmp_path / "nope.json")


def test_wrong_tokenizer_class_raises(bpe_tok, tmp_path):
    path = saved(bpe_tok, tmp_path)
    with pytest.raises(ValueError, match="'bpe' tokenizer, not a CharTokenizer") as info:
        CharTokenizer.load(path)
    assert str(path) in str(info.value)


def bad_file(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_truncated_file_raises_value_error_naming_path(bpe_tok, tmp_path):
    good = saved(bpe_tok, tmp_path).read_bytes()
    path = bad_file(tmp_path, good[: len(good) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated JSON") as info:
        Tokenizer.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe garbage", "not UTF-8"),
        ("", "corrupt or truncated JSON"),
        ('{"model": "gpt"}', "not a tinytorch tokenizer file"),
        ("[1, 2, 3]", "not a tinytorch tokenizer file"),
        ('{"format": "tinytorch.tokenizer", "version": 3, "type": "char"}', "version 3"),
        ('{"format": "tinytorch.tokenizer", "version": 1, "type": "wordpiece"}', "unknown"),
    ],
)
def test_foreign_or_unsupported_files_raise_value_error(tmp_path, content, message):
    path = bad_file(tmp_path, content)
    with pytest.raises(ValueError, match=message) as info:
        Tokenizer.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["vocab"].update({"a": 99}), "not contiguous"),
        (lambda d: d["vocab"].update({"zz": len(d["vocab"])}), "single characters"),
        (lambda d: d["vocab"].update({"<pad>": 5, " ": 0}), "special tokens"),
        (lambda d: d["vocab"].update({"!": d["vocab"]["."], ".": d["vocab"]["!"]}), "order"),
        (lambda d: d["vocab"].update({"a": 0}), "used by both"),
        (lambda d: d.pop("vocab"), "'vocab'"),
    ],
)
def test_inconsistent_char_files_raise(char_tok, tmp_path, edit, message):
    path = saved(char_tok, tmp_path)
    rewrite(path, edit)
    with pytest.raises(ValueError, match=message) as info:
        CharTokenizer.load(path)
    assert str(path) in str(info.value)


def test_duplicate_tokens_in_a_file_raise(char_tok, tmp_path):
    path = saved(char_tok, tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"<pad>": 0,', '"<pad>": 0, "<pad>": 0,'), encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate token") as info:
        Tokenizer.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["merges"].__setitem__(0, [97, 5000]), "references an id outside"),
        (lambda d: d["merges"].append(d["merges"][0]), "not contiguous"),
        (lambda d: d["special_tokens"].update({"<eos>": 10_000}), "not contiguous"),
        (lambda d: d["merges"].__setitem__(1, "ab"), "pair of integer ids"),
        (lambda d: d.update(pattern="gpt5"), "unknown pattern"),
        (lambda d: d.update(special_tokens=["<pad>"]), "special_tokens"),
    ],
)
def test_inconsistent_bpe_files_raise(bpe_tok, tmp_path, edit, message):
    path = saved(bpe_tok, tmp_path)
    rewrite(path, edit)
    with pytest.raises(ValueError, match=message) as info:
        BPETokenizer.load(path)
    assert str(path) in str(info.value)


def test_repeated_merge_with_shifted_specials_raises(bpe_tok, tmp_path):
    path = saved(bpe_tok, tmp_path)

    def repeat_first_merge(data):
        data["merges"].append(data["merges"][0])
        data["special_tokens"] = {k: v + 1 for k, v in data["special_tokens"].items()}

    rewrite(path, repeat_first_merge)
    with pytest.raises(ValueError, match="repeats merge 0"):
        BPETokenizer.load(path)
