"""Bad input is refused at the boundary with a message naming the value and what is allowed."""

import re

import numpy as np
import pytest
import torch

from tinytorch.core.errors import IndexOutOfRangeError
from tinytorch.core.tensor import Tensor
from tinytorch.text.embeddings import (
    Embedding,
    EmbeddingLayer,
    PositionalEncoding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    alibi_bias,
    alibi_slopes,
    create_sinusoidal_embeddings,
    embedding,
    embedding_memory_bytes,
    nearest_neighbors,
)


# ------------------------------------------------------------------------ token ids
@pytest.mark.parametrize(
    "ids, bad, position",
    [
        ([0, 1, 10], 10, "(2,)"),
        ([[0, 1], [2, 999]], 999, "(1, 1)"),
        ([[0, 1, 2], [3, -1, 4]], -1, "(1, 1)"),  # never wrapped to the last row
        (np.array(-10), -10, "()"),
        (np.array([3, 2**63 + 5], dtype=np.uint64), 2**63 + 5, "(1,)"),  # no int64 wrap-around
    ],
)
@pytest.mark.parametrize("caught_as", [IndexError, ValueError])
def test_out_of_range_ids_raise_index_and_value_error(ids, bad, position, caught_as):
    table = Embedding(10, 3)
    with pytest.raises(caught_as, match="out of range") as info:
        table(ids)
    message = str(info.value)
    assert isinstance(info.value, IndexOutOfRangeError)
    assert str(bad) in message and position in message
    assert "[0, 10)" in message


def test_torch_also_rejects_what_we_reject():
    """The oracle agrees these are errors (torch raises IndexError for -1 and V)."""
    table = torch.nn.Embedding(10, 3)
    for bad in (-1, 10):
        with pytest.raises(IndexError):
            table(torch.tensor([bad]))


def test_failed_lookup_changes_nothing():
    table = Embedding(10, 3, max_norm=0.1)
    before = table.weight.data.copy()
    with pytest.raises(IndexError):
        table([1, 2, 10])
    np.testing.assert_array_equal(table.weight.data, before)  # no renorm before validation


@pytest.mark.parametrize(
    "ids, dtype_name",
    [
        (np.array([1.0, 2.0]), "float64"),  # whole numbers, still floats
        (Tensor([1.0, 2.0]), "float32"),
        ([0.0], "float64"),
        (np.array([True, False]), "bool"),
        (np.array(["1", "2"]), "<U1"),
        (np.array([1, 2], dtype=object), "object"),
    ],
)
def test_non_integer_ids_raise_type_error_naming_the_dtype(ids, dtype_name):
    with pytest.raises(TypeError, match=re.escape(dtype_name)):
        Embedding(10, 3)(ids)
    with pytest.raises(TypeError, match="integers"):
        embedding(ids, Tensor(np.zeros((10, 3), np.float32)))


def test_empty_float_array_is_still_a_float_array():
    with pytest.raises(TypeError, match="float32"):
        Embedding(4, 2)(np.zeros((0,), np.float32))


# ------------------------------------------------------------------- constructor arguments
def test_size_spellings_must_be_given_exactly_once():
    with pytest.raises(TypeError, match="num_embeddings or vocab_size, not both"):
        Embedding(10, 4, vocab_size=10)
    with pytest.raises(TypeError, match="embedding_dim or embed_dim, not both"):
        Embedding(10, 4, embed_dim=4)
    with pytest.raises(TypeError, match="num_embeddings"):
        Embedding(embedding_dim=4)
    with pytest.raises(TypeError, match="embedding_dim"):
        Embedding(vocab_size=10)


@pytest.mark.parametrize("sizes", [(0, 4), (10, -1), (10.0, 4), (True, 4)])
def test_sizes_must_be_positive_integers(sizes):
    with pytest.raises(ValueError, match="must be a positive integer"):
        Embedding(*sizes)


@pytest.mark.parametrize("padding_idx", [10, -11])
def test_padding_idx_outside_the_table_is_out_of_range(padding_idx):
    with pytest.raises(
        ValueError, match=rf"padding_idx {padding_idx} is out of range.*\[-10, 10\)"
    ):
        Embedding(10, 3, padding_idx=padding_idx)
    with pytest.raises(IndexError, match="out of range"):
        embedding([0], Tensor(np.zeros((10, 3), np.float32)), padding_idx=padding_idx)


@pytest.mark.parametrize(
    "options, name",
    [
        ({"max_norm": 0.0}, "max_norm"),
        ({"max_norm": -1.0}, "max_norm"),
        ({"max_norm": 1.0, "norm_type": 0.0}, "norm_type"),
        ({"norm_type": -2.0}, "norm_type"),
    ],
)
def test_renorm_arguments_must_be_positive(options, name):
    with pytest.raises(ValueError, match=f"{name} must be a positive number"):
        Embedding(10, 3, **options)


def test_tables_must_be_two_dimensional_floats():
    with pytest.raises(ValueError, match=r"2-D.*shape \(5,\)"):
        Embedding.from_pretrained(np.zeros(5, np.float32))
    with pytest.raises(ValueError, match=r"does not match \(4, 3\)"):
        Embedding(4, 3, _weight=np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="2-D floating-point"):
        embedding([0], Tensor(np.zeros(4, np.float32)))
    with pytest.raises(TypeError, match="floating point"):
        Embedding.from_pretrained(np.zeros((4, 3), np.int64))


# ----------------------------------------------------------------------------- positions
@pytest.mark.parametrize("module_cls", [PositionalEncoding, SinusoidalPositionalEncoding])
def test_sequence_longer_than_table_names_both_numbers(module_cls):
    module = module_cls(max_seq_len=16, embed_dim=4)
    with pytest.raises(ValueError, match=r"exceeds maximum") as info:
        module(np.zeros((2, 20, 4), np.float32))
    assert "20" in str(info.value) and "16" in str(info.value)
    with pytest.raises(ValueError, match=r"sequence end 17 .*offset 14.*exceeds maximum.* 16"):
        module(np.zeros((2, 3, 4), np.float32), offset=14)


@pytest.mark.parametrize("module_cls", [PositionalEncoding, SinusoidalPositionalEncoding])
def test_embed_dim_mismatch_names_both_sizes(module_cls):
    with pytest.raises(ValueError, match=r"shape \(2, 5, 6\).*embed_dim 4"):
        module_cls(16, 4)(np.zeros((2, 5, 6), np.float32))
    with pytest.raises(ValueError, match="seq_len"):
        module_cls(16, 4)(np.zeros(4, np.float32))  # a single vector has no sequence axis


@pytest.mark.parametrize("offset", [-1, 1.5, True])
def test_offsets_must_be_non_negative_integers(offset):
    x = np.zeros((2, 4), np.float32)
    for module in (
        PositionalEncoding(8, 4),
        SinusoidalPositionalEncoding(8, 4),
        RotaryEmbedding(4),
    ):
        with pytest.raises(ValueError, match=r"offset must be a non-negative integer"):
            module(x, offset=offset)
    with pytest.raises(ValueError, match="offset must be a non-negative integer"):
        alibi_bias(2, 2, 2, offset=offset)


def test_sinusoidal_table_arguments():
    with pytest.raises(ValueError, match="embed_dim must be a positive integer, got 0"):
        create_sinusoidal_embeddings(8, 0)
    with pytest.raises(ValueError, match="max_seq_len must be a positive integer"):
        SinusoidalPositionalEncoding(-3, 4)
    with pytest.raises(ValueError, match="base must be positive"):
        create_sinusoidal_embeddings(8, 4, base=0.0)


def test_rope_arguments_and_input():
    with pytest.raises(ValueError, match="even head_dim.*got 5"):
        RotaryEmbedding(5)
    with pytest.raises(ValueError, match="base must be positive"):
        RotaryEmbedding(4, base=-1.0)
    with pytest.raises(ValueError, match=r"head_dim=8.*\(\.\.\., seq_len, 8\).*\(2, 3, 6\)"):
        RotaryEmbedding(8)(np.zeros((2, 3, 6), np.float32))
    with pytest.raises(TypeError, match="floating-point input.*int64"):
        RotaryEmbedding(4)(np.zeros((2, 4), np.int64))


def test_alibi_arguments():
    with pytest.raises(ValueError, match="num_heads must be a positive integer, got 0"):
        alibi_slopes(0)
    with pytest.raises(ValueError, match="num_heads"):
        alibi_bias(-2, 3, 3)
    with pytest.raises(ValueError, match="k_len must be a non-negative integer"):
        alibi_bias(2, 3, -3)


# ---------------------------------------------------------------------- layer and helpers
def test_embedding_layer_rejects_unknown_position_scheme_listing_allowed_ones():
    with pytest.raises(ValueError, match=r"learned.*sinusoidal.*rope.*alibi.*none.*'wings'"):
        EmbeddingLayer(10, 4, pos_encoding="wings")


@pytest.mark.parametrize("tokens", [np.zeros((2, 3, 4), np.int64), np.int64(3)])
def test_embedding_layer_wants_one_or_two_dimensional_tokens(tokens):
    with pytest.raises(ValueError, match=r"\(seq_len,\) or \(batch, seq_len\)"):
        EmbeddingLayer(10, 4)(tokens)


def test_embedding_layer_length_and_id_errors_surface():
    layer = EmbeddingLayer(10, 4, max_seq_len=6)
    with pytest.raises(ValueError, match=r"exceeds maximum.*6"):
        layer(np.zeros((1, 7), np.int64))
    with pytest.raises(IndexError, match="out of range"):
        layer(np.array([[1, 10]]))


def test_nearest_neighbors_arguments():
    table = np.eye(4, dtype=np.float32)
    with pytest.raises(IndexError, match=r"token_id 4 is out of range.*\[0, 4\)"):
        nearest_neighbors(table, 4)
    with pytest.raises(ValueError, match="k=4 exceeds the 3 other rows"):
        nearest_neighbors(table, 0, k=4)
    with pytest.raises(TypeError, match="token_id must be an integer"):
        nearest_neighbors(table, 1.0)
    with pytest.raises(ValueError, match="2-D floating-point"):
        nearest_neighbors(np.arange(4), 0)


def test_memory_helper_arguments():
    with pytest.raises(ValueError, match="vocab_size must be a positive integer"):
        embedding_memory_bytes(0, 8)
