"""Hugging Face interop: tokenizer.json and vocab.json + merges.txt in, save_pretrained out.

The oracles are the real libraries: `tokenizers` trained the files (conftest.py), and
`transformers.AutoTokenizer` loads what tinytorch writes. Ids and decoded text are compared on
~215k characters of real text the tokenizer was not trained on.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode

from tinytorch.text.byte_unicode import BYTE_TO_UNICODE
from tinytorch.text.tokenization import BPETokenizer, CharTokenizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ENDOFTEXT = "<|endoftext|>"
ODD_TEXT = "naïve café 日本語 🙂👍🏽\r\n\ttabs\x00\x7f and \u2028 line separators "


def tables(tokenizer: BPETokenizer) -> tuple:
    return (
        tokenizer.byte_ids,
        tokenizer.merges,
        tokenizer.merge_ids,
        tokenizer.special_tokens,
        tokenizer.pattern,
        tokenizer.roles,
        tokenizer.vocab_size,
    )


def auto_tokenizer(directory: Path, caplog: pytest.LogCaptureFixture):
    """AutoTokenizer.from_pretrained, asserting it warns about nothing (missing files included)."""
    with warnings.catch_warnings(record=True) as caught, caplog.at_level(logging.WARNING):
        warnings.simplefilter("always")
        loaded = AutoTokenizer.from_pretrained(str(directory))
    assert [str(w.message) for w in caught] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    return loaded


@pytest.fixture(scope="module")
def from_json(hf_trained) -> BPETokenizer:
    return BPETokenizer.from_pretrained(hf_trained.json_dir)


def test_byte_table_is_gpt2s():
    assert BYTE_TO_UNICODE == tuple(bytes_to_unicode()[b] for b in range(256))


def test_tokenizer_json_gives_the_ids_of_tokenizers(hf_trained, from_json, compare_text):
    assert compare_text.count(ENDOFTEXT) == 69 and len(compare_text) > 200_000
    expected = hf_trained.tokenizer.encode(compare_text).ids
    assert from_json.encode(compare_text, allowed_special="all") == expected
    # The ids are the file's: special token first, then the byte alphabet, then the merges.
    assert from_json.special_tokens == {ENDOFTEXT: 0} and from_json.vocab_size == 2000
    assert sorted(from_json.byte_ids) == list(range(1, 257))
    assert from_json.roles == {"bos": ENDOFTEXT, "eos": ENDOFTEXT} and from_json.eos_id == 0
    # decode == theirs, with and without the special tokens
    tokenizer = hf_trained.tokenizer
    assert from_json.decode(expected) == tokenizer.decode(expected, skip_special_tokens=False)
    assert from_json.decode(expected) == compare_text
    assert from_json.decode(expected, skip_special_tokens=True) == tokenizer.decode(expected)
    assert from_json.decode(expected, skip_special_tokens=True) == compare_text.replace(
        ENDOFTEXT, ""
    )


def test_by_default_special_strings_stay_text(from_json):
    ids = from_json.encode(f"a{ENDOFTEXT}b")
    assert 0 not in ids and len(ids) > 3
    assert from_json.decode(ids) == f"a{ENDOFTEXT}b"


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(st.text(max_size=30), st.sampled_from([ENDOFTEXT, ODD_TEXT])), max_size=6)
)
def test_any_text_gives_the_ids_of_tokenizers(hf_trained, from_json, pieces):
    text = "".join(pieces)
    ids = from_json.encode(text, allowed_special="all")
    assert ids == hf_trained.tokenizer.encode(text).ids
    assert from_json.decode(ids) == text


@pytest.mark.parametrize("name", ["", "vocab.json", "merges.txt"])
def test_vocab_and_merges_load_as_the_tokenizer_json_does(hf_trained, from_json, name):
    path = hf_trained.gpt2_dir / name if name else hf_trained.gpt2_dir
    assert tables(BPETokenizer.from_pretrained(path)) == tables(from_json)
    assert tables(BPETokenizer.from_pretrained(hf_trained.json_dir / "tokenizer.json")) == tables(
        from_json
    )


def test_transformers_loads_the_trained_files_with_the_same_ids(
    hf_trained, from_json, compare_text, caplog
):
    text = compare_text + ODD_TEXT
    loaded = auto_tokenizer(hf_trained.json_dir, caplog)
    ids = from_json.encode(text, allowed_special="all")
    assert loaded(text)["input_ids"] == ids
    assert loaded.decode(ids) == from_json.decode(ids) == text


def test_export_of_a_loaded_tokenizer_gives_transformers_the_same_ids(
    from_json, compare_text, tmp_path, caplog
):
    from_json.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == [
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
    ]
    loaded = auto_tokenizer(tmp_path, caplog)
    ids = from_json.encode(compare_text, allowed_special="all")
    assert loaded(compare_text)["input_ids"] == ids
    assert loaded.decode(ids) == compare_text
    assert (loaded.bos_token, loaded.eos_token, loaded.eos_token_id) == (ENDOFTEXT, ENDOFTEXT, 0)
    assert tables(BPETokenizer.from_pretrained(tmp_path)) == tables(from_json)


@pytest.fixture(scope="module", params=["gpt2", "gpt4", "o200k", None])
def trained_here(request, pydoc_text) -> BPETokenizer:
    # Without a pre-split the text is one sequence, slow to train on and to encode: less of it.
    chars = 60_000 if request.param else 3_000
    return BPETokenizer.train(pydoc_text[0][:chars], 300 + chars // 100, pattern=request.param)


def test_export_of_a_tokenizer_trained_here_round_trips(
    trained_here, compare_text, tmp_path, caplog
):
    trained_here.save_pretrained(tmp_path)
    loaded = auto_tokenizer(tmp_path, caplog)
    text = compare_text[: 60_000 if trained_here.pattern else 3_000] + "<eos>" + ODD_TEXT
    ids = trained_here.encode(text, allowed_special="all")
    assert loaded(text)["input_ids"] == ids
    assert loaded.decode(ids) == text
    assert loaded.decode(ids, skip_special_tokens=True) == trained_here.decode(
        ids, skip_special_tokens=True
    )
    rows = ["short", "a longer row of text", ""]
    padded = loaded(rows, padding=True)
    batch = trained_here.encode_batch(rows)
    assert padded["input_ids"] == batch.ids.tolist()
    assert padded["attention_mask"] == batch.attention_mask.astype(int).tolist()
    # ... and back: the same tables, so the same ids
    assert tables(BPETokenizer.from_pretrained(tmp_path)) == tables(trained_here)


def test_char_tokenizer_export_gives_transformers_the_same_ids(pydoc_text, tmp_path, caplog):
    tokenizer = CharTokenizer.from_text(pydoc_text[0])
    tokenizer.save_pretrained(tmp_path)
    loaded = auto_tokenizer(tmp_path, caplog)
    text = pydoc_text[1] + ODD_TEXT  # unknown characters included
    ids = tokenizer.encode(text)
    assert tokenizer.unk_id in ids and ids.count(tokenizer.encode("\n")[0]) > 1000
    assert loaded(text)["input_ids"] == ids
    assert loaded.decode(ids) == tokenizer.decode(ids, skip_special_tokens=False)
    rows = ["ab", "abcd\n"]
    assert loaded(rows, padding=True)["input_ids"] == tokenizer.encode_batch(rows).ids.tolist()
    assert (loaded.pad_token_id, loaded.unk_token_id, loaded.bos_token_id, loaded.eos_token_id) == (
        0,
        1,
        2,
        3,
    )
    back = CharTokenizer.from_pretrained(tmp_path)  # and back in: the same alphabet and ids
    assert back.chars == tokenizer.chars and back.encode(text) == ids


def test_char_export_matches_special_names_as_hugging_face_does(tmp_path, caplog):
    tokenizer = CharTokenizer("<>abeos")
    tokenizer.save_pretrained(tmp_path)
    loaded = auto_tokenizer(tmp_path, caplog)
    assert loaded("a<eos>")["input_ids"] == [tokenizer.encode("a")[0], tokenizer.eos_id]
    assert len(tokenizer.encode("a<eos>")) == 6  # documented: plain text here


def test_save_pretrained_refuses_to_replace_a_tinytorch_tokenizer_file(trained_here, tmp_path):
    ours = tmp_path / "tokenizer.json"
    trained_here.save(ours)
    before = ours.read_bytes()
    with pytest.raises(ValueError, match="is a tinytorch tokenizer file") as info:
        trained_here.save_pretrained(tmp_path)
    assert str(ours) in str(info.value)
    assert ours.read_bytes() == before and os.listdir(tmp_path) == ["tokenizer.json"]


# ------------------------------------------------------------------------- refused files
def edited_copy(hf_trained, tmp_path: Path, edit) -> Path:
    data = json.loads((hf_trained.json_dir / "tokenizer.json").read_text(encoding="utf-8"))
    edit(data)
    (tmp_path / "tokenizer.json").write_text(json.dumps(data), encoding="utf-8")
    return tmp_path


def _set(*keys_and_value):
    *keys, last, value = keys_and_value

    def edit(data):
        for key in keys:
            data = data[key]
        data[last] = value

    return edit


SPLIT = {"type": "Split", "pattern": {"Regex": r"\w+|\W"}, "behavior": "Isolated", "invert": False}
BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set("model", "type", "WordPiece"), "model.type 'WordPiece' is not supported"),
        (_set("model", "dropout", 0.1), "model.dropout=0.1 is not supported"),
        (_set("normalizer", {"type": "NFC"}), "normalizer 'NFC' is not supported"),
        (_set("pre_tokenizer", "add_prefix_space", True), "add_prefix_space=true is not supp"),
        (_set("pre_tokenizer", {"type": "Metaspace"}), "pre_tokenizer 'Metaspace' is not supp"),
        (
            _set("pre_tokenizer", {"type": "Sequence", "pretokenizers": [SPLIT, BYTE_LEVEL]}),
            r"unknown pre-split regex '\\\\w\+\|\\\\W'",
        ),
        (_set("post_processor", {"type": "TemplateProcessing"}), "'TemplateProcessing' is not"),
        (_set("model", "vocab", "Ġthe", "x"), r"model.vocab\['Ġthe'\] must be an integer id"),
        (_set("model", "merges", 3, "Ġ"), r"model.merges\[3\] must be two tokens"),
        (_set("model", "merges", 0, ["Ġ", "zz"]), r"model.merges\[0\]: 'zz' is not in model.vocab"),
        (lambda d: d["model"]["vocab"].pop("Ċ"), "has no token for byte 10 \\('Ċ'\\)"),
        (lambda d: d["model"]["merges"].pop(), "is neither a byte nor made by a merge"),
        (_set("added_tokens", 0, "lstrip", True), r"added_tokens\[0\].lstrip=true is not supp"),
        (lambda d: d.pop("model"), "model must be a JSON dict, got None"),
        (_set("model", "vocab", "Ġthe", 2**40), "is 1099511627776, outside the ids allowed"),
    ],
)
def test_unsupported_or_corrupt_tokenizer_json_is_refused_naming_the_key(
    hf_trained, tmp_path, edit, message
):
    directory = edited_copy(hf_trained, tmp_path, edit)
    with pytest.raises(ValueError, match=message) as info:
        BPETokenizer.from_pretrained(directory)
    assert str(directory / "tokenizer.json") in str(info.value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set("model", "type", "BPE"), 'model.type="BPE" is not supported'),
        (_set("model", "unk_token", "[UNK]"), 'model.unk_token="\\[UNK\\]" is not supported'),
        (_set("normalizer", {"type": "NFC"}), "normalizer=.* is not supported"),
        (_set("pre_tokenizer", {"type": "Whitespace"}), "pre_tokenizer=.* is not supported"),
        (_set("decoder", None), "decoder=null is not supported"),
        (_set("model", "vocab", "ab", 7), "alphabet entries must be single characters, got 'ab'"),
        (_set("model", "vocab", "<eos>", 9), r"added_tokens\[3\] is not a token of model.vocab"),
        (lambda d: d["model"]["vocab"].update(a=5, b=4), "characters are not in code-point order"),
    ],
)
def test_char_tokenizer_json_edited_out_of_shape_is_refused(tmp_path, edit, message):
    CharTokenizer("abc").save_pretrained(tmp_path)
    path = tmp_path / "tokenizer.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    edit(data)
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        CharTokenizer.from_pretrained(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_truncated_or_foreign_json_is_refused(hf_trained, tmp_path, trained_here):
    path = tmp_path / "tokenizer.json"
    path.write_bytes((hf_trained.json_dir / "tokenizer.json").read_bytes()[:5000])
    with pytest.raises(ValueError, match="corrupt or truncated JSON"):
        BPETokenizer.from_pretrained(path)
    trained_here.save(path)
    with pytest.raises(ValueError, match="use BPETokenizer.load"):
        BPETokenizer.from_pretrained(path)


def copy_gpt2_files(hf_trained, tmp_path: Path, merges_edit=None, vocab_edit=None) -> Path:
    lines = (hf_trained.gpt2_dir / "merges.txt").read_text(encoding="utf-8").split("\n")
    vocab = json.loads((hf_trained.gpt2_dir / "vocab.json").read_text(encoding="utf-8"))
    (merges_edit or (lambda _: None))(lines)
    (vocab_edit or (lambda _: None))(vocab)
    (tmp_path / "merges.txt").write_text("\n".join(lines), encoding="utf-8")
    (tmp_path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("Ġ  t", "merges.txt line 4: expected two tokens separated by one space, got 'Ġ  t'"),
        ("Ġ", "merges.txt line 4: expected two tokens"),
        ("Ġ qqq", "merges.txt line 4: 'qqq' is not in .*vocab.json"),
    ],
)
def test_bad_merges_line_is_refused_naming_its_number(hf_trained, tmp_path, line, message):
    directory = copy_gpt2_files(hf_trained, tmp_path, lambda lines: lines.__setitem__(3, line))
    with pytest.raises(ValueError, match=message):
        BPETokenizer.from_pretrained(directory)


def test_special_tokens_come_from_the_config_files(hf_trained, tmp_path):
    directory = copy_gpt2_files(
        hf_trained, tmp_path, vocab_edit=lambda v: v.update({"<pad>": 2000, "<s>": 2001})
    )
    config = {"bos_token": {"content": "<s>"}, "eos_token": ENDOFTEXT, "pad_token": "<pad>"}
    (directory / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    tokenizer = BPETokenizer.from_pretrained(directory)
    assert tokenizer.special_tokens == {ENDOFTEXT: 0, "<s>": 2001, "<pad>": 2000}
    assert (tokenizer.bos_id, tokenizer.eos_id, tokenizer.pad_id) == (2001, 0, 2000)
    (directory / "special_tokens_map.json").write_text('{"unk_token": "<unk>"}', encoding="utf-8")
    with pytest.raises(ValueError, match="has no unk_token '<unk>'"):
        BPETokenizer.from_pretrained(directory)


def test_missing_files_raise_file_not_found(hf_trained, tmp_path):
    with pytest.raises(FileNotFoundError):
        BPETokenizer.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no tokenizer.json, nor vocab.json and merges.txt"):
        BPETokenizer.from_pretrained(tmp_path)
    (tmp_path / "vocab.json").write_bytes((hf_trained.gpt2_dir / "vocab.json").read_bytes())
    with pytest.raises(FileNotFoundError, match="merges.txt"):
        BPETokenizer.from_pretrained(tmp_path)
