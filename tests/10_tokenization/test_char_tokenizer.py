import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.errors import IndexOutOfRangeError
from tinytorch.text.tokenization import CharTokenizer


class ArrayLike:
    """Stands in for a tinytorch Tensor: anything exposing __array__."""

    def __init__(self, data):
        self.data = np.asarray(data)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)


def test_special_ids_are_fixed_and_alphabet_is_sorted_by_code_point():
    tok = CharTokenizer("cba\n")
    assert (tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id) == (0, 1, 2, 3)
    assert tok.special_tokens == {"<pad>": 0, "<unk>": 1, "<bos>": 2, "<eos>": 3}
    assert tok.chars == ["\n", "a", "b", "c"]
    assert tok.encode("\nabc") == [4, 5, 6, 7]
    assert tok.vocab_size == 8


def test_from_text_collects_distinct_characters():
    tok = CharTokenizer.from_text("hello, world")
    assert tok.chars == sorted(set("hello, world"))
    assert tok.vocab_size == 4 + len(set("hello, world"))


def test_same_alphabet_gives_same_ids_whatever_the_order():
    assert CharTokenizer("xyz").encode("zyx") == CharTokenizer(["z", "x", "y"]).encode("zyx")


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_round_trip_for_text_from_the_alphabet(data):
    alphabet = data.draw(st.text(min_size=1, alphabet=st.characters(codec=None)))
    text = data.draw(st.text(alphabet=st.sampled_from(sorted(set(alphabet)))))
    tok = CharTokenizer.from_text(alphabet)
    ids = tok.encode(text)
    assert len(ids) == len(text)
    assert all(4 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == text


def test_whitespace_and_newlines_round_trip_exactly():
    text = "  two spaces\n\ttab\r\nwindows line\n\n"
    tok = CharTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text


def test_lone_surrogate_is_an_ordinary_character():
    text = "a\ud800b"
    tok = CharTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text


def test_unknown_characters_map_to_unk_and_are_never_dropped():
    tok = CharTokenizer("abc")
    ids = tok.encode("a?b\U0001f600c")  # '?' below and the emoji above the table's range
    assert ids == [4, 1, 5, 1, 6]
    assert tok.decode(ids) == "a\ufffdb\ufffdc"


def test_decode_skips_pad_bos_eos_unless_asked_to_render_them():
    tok = CharTokenizer("ab")
    ids = [2, 4, 1, 5, 3, 0, 0]
    assert tok.decode(ids) == "a\ufffdb"
    assert tok.decode(ids, skip_special_tokens=False) == "<bos>a<unk>b<eos><pad><pad>"


def test_encode_array_matches_encode_and_is_int64():
    tok = CharTokenizer.from_text("the quick brown fox")
    text = "the lazy dog jumps over the quick brown fox\n" * 50
    arr = tok.encode_array(text)
    assert arr.dtype == np.int64 and arr.shape == (len(text),)
    assert arr.tolist() == tok.encode(text)
    assert tok.encode_array("").shape == (0,)


def test_empty_alphabet_still_encodes_everything_as_unk():
    tok = CharTokenizer([])
    assert tok.vocab_size == 4
    assert tok.encode("hi") == [1, 1]


def test_decode_accepts_lists_numpy_arrays_and_array_likes():
    tok = CharTokenizer("ab")
    assert tok.decode(np.array([4, 5], dtype=np.int32)) == "ab"
    assert tok.decode(np.array([4, 5], dtype=np.uint8)) == "ab"
    assert tok.decode(ArrayLike([5, 4])) == "ba"
    assert tok.decode([]) == ""
    assert tok.decode(np.int64(4)) == "a"


@pytest.mark.parametrize("bad", [[4.0, 5.0], np.array([4.0]), [True, False], np.array([1, 2]) > 1])
def test_decode_rejects_float_and_bool_ids(bad):
    with pytest.raises(TypeError, match="integer"):
        CharTokenizer("ab").decode(bad)


@pytest.mark.parametrize("bad_id", [-1, 6, 2**70])
def test_out_of_range_ids_raise_index_and_value_error(bad_id):
    tok = CharTokenizer("ab")
    with pytest.raises(IndexOutOfRangeError) as info:
        tok.decode([4, bad_id])
    assert isinstance(info.value, IndexError) and isinstance(info.value, ValueError)
    message = str(info.value)
    assert "out of range" in message and str(bad_id) in message and "[0, 6)" in message


def test_decode_rejects_batches_and_encode_rejects_bytes():
    tok = CharTokenizer("ab")
    with pytest.raises(ValueError, match=r"1-D.*\(2, 2\)"):
        tok.decode([[4, 5], [5, 4]])
    with pytest.raises(TypeError, match="bytes"):
        tok.encode(b"ab")


def test_alphabet_entries_must_be_single_characters():
    with pytest.raises(ValueError, match="'ab'"):
        CharTokenizer(["a", "ab"])
