"""EmbeddingLayer (tokens + positions), the memory helpers and nearest_neighbors."""

import math

import numpy as np
import pytest
import torch

from tinytorch.core.tensor import Tensor
from tinytorch.text.embeddings import (
    Embedding,
    EmbeddingLayer,
    PositionalEncoding,
    SinusoidalPositionalEncoding,
    create_sinusoidal_embeddings,
    embedding_memory_bytes,
    nearest_neighbors,
)


@pytest.mark.parametrize(
    "pos_encoding, parameter_names, position_cls",
    [
        ("learned", ["token_embedding.weight", "position_encoding.weight"], PositionalEncoding),
        ("sinusoidal", ["token_embedding.weight"], SinusoidalPositionalEncoding),
        ("rope", ["token_embedding.weight"], type(None)),
        (None, ["token_embedding.weight"], type(None)),
    ],
)
def test_parameters_are_exactly_the_trainable_tables(pos_encoding, parameter_names, position_cls):
    layer = EmbeddingLayer(20, 8, max_seq_len=16, pos_encoding=pos_encoding)
    assert [name for name, _ in layer.named_parameters()] == parameter_names
    assert sorted(layer.state_dict()) == sorted(parameter_names)
    assert isinstance(layer.token_embedding, Embedding)
    assert isinstance(layer.position_encoding, position_cls)


def test_learned_layer_matches_torch_token_plus_position_tables(rng):
    layer = EmbeddingLayer(30, 6, max_seq_len=12, pos_encoding="learned", padding_idx=0)
    tokens = rng.integers(0, 30, (3, 5))
    tokens[0, :2] = 0
    upstream = rng.standard_normal((3, 5, 6)).astype(np.float32)
    out = layer(tokens, offset=4)
    out.backward(upstream)

    token_table = torch.tensor(layer.token_embedding.weight.data, requires_grad=True)
    position_table = torch.tensor(layer.position_encoding.weight.data, requires_grad=True)
    expected = (
        torch.nn.functional.embedding(torch.from_numpy(tokens), token_table, padding_idx=0)
        + position_table[4:9]
    )
    expected.backward(torch.from_numpy(upstream))
    assert out.shape == (3, 5, 6) and out.dtype == np.float32
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        layer.token_embedding.weight.grad, token_table.grad.numpy(), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(
        layer.position_encoding.weight.grad, position_table.grad.numpy(), rtol=1e-4, atol=1e-5
    )


def test_sinusoidal_layer_with_scaling_on_unbatched_tokens():
    layer = EmbeddingLayer(10, 4, max_seq_len=8, pos_encoding="sinusoidal", scale_embeddings=True)
    tokens = np.array([3, 1, 3])
    out = layer(tokens, offset=2)
    assert out.shape == (3, 4) and out.dtype == np.float32
    expected = (
        layer.token_embedding.weight.data[tokens] * 2.0 + create_sinusoidal_embeddings(8, 4)[2:5]
    )
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)
    assert layer.scale == math.sqrt(4)


@pytest.mark.parametrize("pos_encoding", ["rope", None])
def test_rope_and_no_positions_add_nothing_and_have_no_length_limit(pos_encoding):
    layer = EmbeddingLayer(10, 4, max_seq_len=8, pos_encoding=pos_encoding)
    assert layer.max_seq_len is None
    tokens = np.arange(2000) % 10  # far beyond max_seq_len=8
    out = layer(tokens, offset=50)
    np.testing.assert_array_equal(out.data, layer.token_embedding.weight.data[tokens])


def test_dropout_applies_after_positions_in_train_mode_only(rng):
    layer = EmbeddingLayer(10, 16, max_seq_len=8, pos_encoding="learned", dropout=0.5)
    tokens = rng.integers(0, 10, (4, 8))
    clean = layer.token_embedding.weight.data[tokens] + layer.position_encoding.weight.data
    layer.eval()
    np.testing.assert_allclose(layer(tokens).data, clean, rtol=1e-6)
    layer.train()
    dropped = layer(tokens).data
    zeroed = dropped == 0
    assert 0.3 < zeroed.mean() < 0.7
    np.testing.assert_allclose(dropped[~zeroed], 2.0 * clean[~zeroed], rtol=1e-6)


def test_tensor_and_list_tokens_are_accepted():
    layer = EmbeddingLayer(10, 4, pos_encoding=None)
    expected = layer([[1, 2], [3, 4]]).data
    np.testing.assert_array_equal(layer(Tensor([[1, 2], [3, 4]])).data, expected)
    assert (layer.vocab_size, layer.embed_dim) == (10, 4)


# ----------------------------------------------------------------------------- helpers
def test_memory_bytes():
    assert Embedding(1000, 64).memory_bytes() == 1000 * 64 * 4
    assert embedding_memory_bytes(50000, 256) == 51_200_000
    assert embedding_memory_bytes(50000, 256, dtype=np.float16) == 25_600_000
    table = Embedding.from_pretrained(Tensor(np.zeros((3, 5)), dtype=np.float64))
    assert table.memory_bytes() == embedding_memory_bytes(3, 5, np.float64) == 120


def test_nearest_neighbors_by_cosine_similarity_excluding_the_token():
    table = np.array(
        [[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [-1.0, 0.0], [0.0, 0.0], [2.0, 0.0]], np.float32
    )
    ids, similarities = nearest_neighbors(table, 0, k=5)
    np.testing.assert_array_equal(ids, [5, 1, 2, 4, 3])  # ties (0.0) broken by lower id
    expected = [1.0, 10 / math.sqrt(101), 0.0, 0.0, -1.0]
    np.testing.assert_allclose(similarities, expected, rtol=1e-6, atol=1e-7)
    assert ids.dtype == np.int64 and similarities.dtype == np.float32


def test_nearest_neighbors_of_a_zero_row_is_all_zero_not_nan():
    table = Embedding.from_pretrained(np.array([[0.0, 0.0], [1.0, 2.0], [3.0, 1.0]], np.float32))
    ids, similarities = nearest_neighbors(table, 0, k=2)
    np.testing.assert_array_equal(ids, [1, 2])
    np.testing.assert_array_equal(similarities, [0.0, 0.0])
    same_ids, _ = nearest_neighbors(table.weight, 1, k=1)
    np.testing.assert_array_equal(same_ids, [2])
