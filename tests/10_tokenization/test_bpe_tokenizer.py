from collections import Counter

import numpy as np
import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

import tinytorch.text.bpe as bpe_module
from tinytorch.text.bpe import PATTERNS
from tinytorch.text.tokenization import BPETokenizer

CORPUS = (
    "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs!\n"
    "Numbers like 12345 and 2024 appear, and so do contractions: it's, we'll, they're.\n"
) * 20
TRICKY = [
    "",
    " ",
    "\r\n\n\t  ",
    "héllo wörld",
    "日本語のテキスト、中文文本",
    "e\u0301 a\u0308 combining marks",
    "emoji 👩\u200d👩\u200d👧 🇫🇷 👍🏽",
    "mixed 123abc!!! <eos> <pad>",
    "\x00\x7f\U0010ffff",
]


@pytest.fixture(scope="module")
def tok():
    return BPETokenizer.train(CORPUS, 256 + 60 + 4)


def reference_merges(text, n_merges, pattern):
    """Textbook BPE: recount every pair of every chunk before each merge."""
    chunks = regex.findall(PATTERNS[pattern], text) if pattern else [text]
    words = [list(chunk.encode("utf-8")) for chunk in chunks]
    merges = []
    for k in range(n_merges):
        counts = Counter(p for w in words for p in zip(w[:-1], w[1:], strict=True))
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        new_words = []
        for w in words:
            out, i = [], 0
            while i < len(w):
                if w[i : i + 2] == list(best):
                    out.append(256 + k)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_words.append(out)
        words = new_words
    return merges


def test_first_merges_on_the_textbook_example():
    # aaabdaaabac: "aa" occurs 4 times -> first merge; then "ab" and ("aa","ab") tie/lead.
    tok = BPETokenizer.train("aaabdaaabac", 256 + 3 + 4, pattern=None)
    assert tok.merges == [(97, 97), (97, 98), (256, 257)]
    assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
    assert [tok.decode([i]) for i in (256, 257, 258)] == ["aa", "ab", "aaab"]
    assert tok.special_tokens == {"<pad>": 259, "<unk>": 260, "<bos>": 261, "<eos>": 262}
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (259, 260, 261, 262)
    assert tok.vocab_size == 263


@settings(max_examples=60, deadline=None)
@given(
    text=st.one_of(st.text(alphabet="ab c\n", max_size=80), st.text(max_size=40)),
    n_merges=st.integers(0, 25),
    pattern=st.sampled_from([None, "gpt2", "gpt4"]),
)
def test_incremental_training_matches_textbook_recounting(text, n_merges, pattern):
    tok = BPETokenizer.train(text, 256 + n_merges + 4, pattern=pattern)
    assert tok.merges == reference_merges(text, n_merges, pattern)


def test_training_only_rewrites_chunks_that_contain_the_merged_pair(monkeypatch):
    calls = []
    real_merge = bpe_module._merge_pair

    def checked_merge(ids, pair, new_id):
        assert pair in set(zip(ids[:-1], ids[1:], strict=True)), "rewrote an unaffected chunk"
        calls.append(pair)
        return real_merge(ids, pair, new_id)

    monkeypatch.setattr(bpe_module, "_merge_pair", checked_merge)
    BPETokenizer.train(CORPUS, 256 + 40 + 4)
    assert len(set(calls)) == 40


def test_training_is_deterministic_and_fills_the_vocabulary(tok):
    again = BPETokenizer.train(CORPUS, 256 + 60 + 4)
    assert again.merges == tok.merges
    assert tok.vocab_size == 320 and len(tok.merges) == 60
    assert min(tok.special_tokens.values()) == 256 + 60
    assert again.encode(CORPUS) == tok.encode(CORPUS)


def test_training_stops_early_when_no_pair_is_left():
    tok = BPETokenizer.train("ab", 1000, pattern=None)
    assert tok.merges == [(97, 98)]
    assert tok.vocab_size == 256 + 1 + 4


def test_vocab_size_must_leave_room_for_bytes_and_specials():
    with pytest.raises(ValueError, match=r"vocab_size=259.*>= 260"):
        BPETokenizer.train(CORPUS, 259)
    assert BPETokenizer.train(CORPUS, 260).merges == []


def test_pad_is_always_registered():
    tok = BPETokenizer.train(CORPUS, 300, special_tokens=())
    assert tok.special_tokens == {"<pad>": 299}
    assert tok.pad_id == 299 and tok.unk_id is None and tok.bos_id is None
    assert tok.vocab_size == 300


def test_pattern_keeps_words_and_spaces_apart(tok):
    # Pre-splitting means no token spans a word and the following space or punctuation.
    pieces = [tok.decode([i]) for i in tok.encode("the dog. the fox")]
    assert "".join(pieces) == "the dog. the fox"
    assert not any(p.endswith(" ") and p.strip() for p in pieces)
    assert " the" in pieces or " fox" in pieces


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_round_trip_for_any_unicode_text(tok, text):
    ids = tok.encode(text)
    assert all(0 <= i < 256 + 60 for i in ids)
    assert tok.decode(ids) == text


@pytest.fixture(scope="module", params=[None, "gpt2", "gpt4"])
def tok_per_pattern(request):
    return BPETokenizer.train(CORPUS + "".join(TRICKY), 300, pattern=request.param)


@pytest.mark.parametrize("text", TRICKY)
def test_round_trip_for_tricky_strings(tok_per_pattern, text):
    assert tok_per_pattern.decode(tok_per_pattern.encode(text)) == text


def test_merges_apply_lowest_rank_first_not_left_to_right():
    tok = BPETokenizer([(98, 99), (97, 98)], pattern=None)  # "bc" ranks before "ab"
    assert tok.encode("abc") == [97, 256]
    assert tok.encode("ab") == [257]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 256 + 60 + 4 - 1), max_size=40))
def test_decoding_any_valid_ids_never_crashes(tok, ids):
    assert isinstance(tok.decode(ids), str)
    assert isinstance(tok.decode(ids, skip_special_tokens=True), str)


def test_invalid_utf8_decodes_to_replacement_characters(tok):
    assert tok.decode([0xFF]) == "\ufffd"
    assert tok.decode([0xE6, 0x97]) == "\ufffd"  # first two bytes of a 3-byte character
    assert tok.decode([104, 0xFF, 105]) == "h\ufffdi"


def test_special_strings_in_user_text_stay_ordinary_by_default(tok):
    text = "hi <eos><bos>"
    ids = tok.encode(text)
    assert not set(ids) & set(tok.special_tokens.values())
    assert tok.decode(ids) == text


def test_allowed_special_encodes_special_strings_to_their_ids(tok):
    text = "hi<eos> again<bos>"
    ids = tok.encode(text, allowed_special="all")
    assert ids.count(tok.eos_id) == 1 and ids.count(tok.bos_id) == 1
    assert ids[: ids.index(tok.eos_id)] == tok.encode("hi")
    assert tok.decode(ids) == text

    only_eos = tok.encode(text, allowed_special={"<eos>"})
    assert tok.eos_id in only_eos and tok.bos_id not in only_eos
    assert tok.decode(only_eos) == text


def test_decode_renders_or_skips_special_tokens(tok):
    ids = [tok.bos_id, *tok.encode("ok"), tok.unk_id, tok.eos_id, tok.pad_id]
    assert tok.decode(ids) == "<bos>ok<unk><eos><pad>"
    assert tok.decode(ids, skip_special_tokens=True) == "ok\ufffd"


def test_allowed_special_rejects_unknown_names_and_bare_strings(tok):
    with pytest.raises(ValueError, match="<mask>"):
        tok.encode("x", allowed_special={"<mask>"})
    with pytest.raises(ValueError, match="collection"):
        tok.encode("x", allowed_special="<eos>")


def test_text_that_is_not_utf8_raises_a_clear_error(tok):
    with pytest.raises(ValueError, match=r"U\+D800 at index 2"):
        tok.encode("ab\ud800")
    with pytest.raises(ValueError, match=r"U\+DFFF at index 0"):
        BPETokenizer.train("\udfff abc", 300)


def test_encode_array_matches_encode_and_is_int64(tok):
    text = "".join(TRICKY) + CORPUS[:500]
    arr = tok.encode_array(text)
    assert arr.dtype == np.int64
    assert arr.tolist() == tok.encode(text)
    special = tok.encode_array("a<eos>", allowed_special="all")
    assert special.tolist() == tok.encode("a<eos>", allowed_special="all")
    assert special[-1] == tok.eos_id


def test_cached_encoding_matches_a_fresh_tokenizer(tok):
    fresh = BPETokenizer(tok.merges)
    assert tok.encode(CORPUS) == fresh.encode(CORPUS)


@pytest.mark.parametrize(
    ("merges", "message"),
    [
        ([(97, 256)], "outside"),
        ([(97, 98), (97, 98)], "repeats"),
        ([(97,)], "pair"),
        ([(True, 98)], "pair"),
    ],
)
def test_constructor_rejects_inconsistent_merges(merges, message):
    with pytest.raises(ValueError, match=message):
        BPETokenizer(merges)


def test_constructor_requires_pad_and_unique_specials():
    with pytest.raises(ValueError, match="<pad>"):
        BPETokenizer([], special_tokens=["<eos>"])
    with pytest.raises(ValueError, match="duplicate"):
        BPETokenizer([], special_tokens=["<pad>", "<eos>", "<eos>"])
    with pytest.raises(ValueError, match="pattern"):
        BPETokenizer([], pattern="gpt5")
