"""position_similarity for every scheme, against tables and rotations computed here."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.attention import AttentionPositions
from tinytorch.core.autograd import no_grad
from tinytorch.core.module import Module, Parameter
from tinytorch.core.tensor import Tensor
from tinytorch.inspection import cosine_similarity_matrix, position_similarity
from tinytorch.models.transformer import GPT
from tinytorch.text.positions import (
    POSITION_ENCODINGS,
    PositionScheme,
    create_sinusoidal_embeddings,
)

from .conftest import POSITION_SCHEMES


def _cosines(rows: np.ndarray) -> np.ndarray:
    """By hand, pair by pair."""
    rows = rows.astype(np.float64)
    n = len(rows)
    out = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            out[i, j] = rows[i] @ rows[j] / np.linalg.norm(rows[i]) / np.linalg.norm(rows[j])
    return out


@pytest.mark.parametrize("pos_encoding", POSITION_SCHEMES)
def test_reference_is_the_cosine_of_the_sinusoidal_table(make_gpt, pos_encoding) -> None:
    positions = position_similarity(make_gpt(11, pos_encoding))
    assert positions.scheme == pos_encoding
    reference = positions.reference
    assert reference.shape == (16, 16) and reference.dtype == np.float32
    np.testing.assert_allclose(reference, _cosines(create_sinusoidal_embeddings(16, 16)), atol=1e-6)
    np.testing.assert_allclose(np.diag(reference), 1.0, atol=1e-6)
    np.testing.assert_array_equal(reference, reference.T)


@pytest.mark.parametrize("pos_encoding", ["learned", "sinusoidal"])
def test_a_position_table_is_compared_row_by_row(make_gpt, pos_encoding) -> None:
    model = make_gpt(11, pos_encoding)
    encoding = model.embedding.position_encoding
    table = (encoding.weight if pos_encoding == "learned" else encoding.pe).data
    positions = position_similarity(model)
    assert positions.has_table and positions.kind == "table"
    np.testing.assert_allclose(positions.own, _cosines(table), atol=1e-6)
    np.testing.assert_allclose(np.diag(positions.own), 1.0, atol=1e-6)
    np.testing.assert_array_equal(positions.own, positions.own.T)
    if pos_encoding == "learned":  # random rows: not the sinusoid
        assert np.abs(positions.own - positions.reference).max() > 0.5
    else:
        np.testing.assert_allclose(positions.own, positions.reference, atol=1e-6)


def test_rope_is_the_expected_cosine_of_the_rotation_in_closed_form(make_gpt) -> None:
    """Pair k of a head (hd = 8 features, 4 pairs) turns by t * theta_k at position t, with
    theta_k = 10000^(-2k/hd); for a random direction every pair holds 2/hd of |x|^2 on average,
    so E[cos(R_i x, R_j x)] = mean_k cos((i - j) theta_k)."""
    positions = position_similarity(make_gpt(11, "rope"))
    theta = 10000.0 ** (-np.arange(0, 8, 2) / 8)
    distance = np.arange(16)[:, None] - np.arange(16)[None, :]
    expected = np.cos(distance[..., None] * theta).mean(axis=-1)
    assert positions.kind == "rotation" and not positions.has_table
    assert positions.own.shape == (16, 16)
    np.testing.assert_allclose(positions.own, expected, atol=1e-6)
    np.testing.assert_allclose(np.diag(positions.own), 1.0, atol=1e-6)
    np.testing.assert_allclose(positions.own, positions.own.T, atol=1e-7)
    assert np.ptp(np.diagonal(positions.own, offset=3)) < 1e-6  # a function of i - j only
    assert "no position table" in positions.description


def test_rope_expectation_agrees_with_random_vectors(make_gpt, rng) -> None:
    model = make_gpt(11, "rope")
    positions = position_similarity(model, length=6)
    rotary = model.blocks[0].attn.positions
    x = rng.standard_normal((20_000, 1, rotary.head_dim))
    with no_grad():
        rotated = rotary(np.repeat(x, 6, axis=1)).data
    unit = rotated / np.linalg.norm(rotated, axis=-1, keepdims=True)
    sampled = np.einsum("nid,njd->ij", unit, unit) / len(x)
    np.testing.assert_allclose(positions.own, sampled, atol=0.02)


def test_alibi_gives_the_per_head_bias(make_gpt) -> None:
    positions = position_similarity(make_gpt(11, "alibi"))
    distance = np.abs(np.arange(16)[:, None] - np.arange(16)[None, :])
    slopes = [2.0**-4, 2.0**-8]  # 2 heads: 2^(-8h/2)
    assert positions.kind == "score bias" and positions.own.shape == (2, 16, 16)
    for head, slope in enumerate(slopes):
        np.testing.assert_allclose(positions.own[head], -slope * distance, atol=1e-7)
    assert "alibi has no position table" in positions.description


def test_no_positions_says_so(make_gpt) -> None:
    positions = position_similarity(make_gpt(11, "none"))
    assert positions.scheme == "none" and positions.kind is None and positions.own is None
    assert positions.description.startswith("This model uses no positions")


def test_length_beyond_a_table_is_refused(make_gpt) -> None:
    with pytest.raises(ValueError, match="length 17 exceeds the model's learned position table"):
        position_similarity(make_gpt(11, "learned"), length=17)
    assert position_similarity(make_gpt(11, "rope"), length=40).own.shape == (40, 40)


def test_a_zero_row_has_cosine_zero_not_nan() -> None:
    matrix = cosine_similarity_matrix(np.array([[0.0, 0.0], [1.0, 1.0]]))
    np.testing.assert_array_equal(matrix, [[0.0, 0.0], [0.0, 1.0]])


class _Parity(Module):
    """A toy table: one vector for even positions, one for odd ones."""

    def __init__(self, max_seq_len: int, embed_dim: int) -> None:
        super().__init__()
        self.weight = Parameter(np.random.default_rng(0).normal(0, 1, (2, embed_dim)))

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        return x + self.weight[(offset + np.arange(x.shape[-2])) % 2]


class _SquaredDistance(AttentionPositions):
    """A toy score bias, the same for every head: -(i - j)^2 / 100."""

    def score_bias(self, q_len: int, k_len: int, offset: int) -> np.ndarray:
        distance = np.arange(k_len)[None, :] - np.arange(offset, offset + q_len)[:, None]
        return (-(distance**2) / 100.0)[None].astype(np.float32)


def test_a_scheme_added_from_outside_is_shown_without_a_change(monkeypatch) -> None:
    monkeypatch.setitem(POSITION_ENCODINGS, "parity", PositionScheme("parity", table=_Parity))
    squared = PositionScheme("squared", attention=lambda dim, heads: _SquaredDistance())
    monkeypatch.setitem(POSITION_ENCODINGS, "squared", squared)
    table = position_similarity(GPT(11, 8, 1, 2, 6, pos_encoding="parity"))
    rows = _Parity(6, 8).weight.data[np.arange(6) % 2]
    assert table.kind == "table" and table.scheme == "parity"
    np.testing.assert_allclose(table.own, _cosines(rows), atol=1e-6)
    assert table.own[0, 2] == pytest.approx(1.0) and table.own[0, 1] < 0.9
    bias = position_similarity(GPT(11, 8, 1, 2, 6, pos_encoding="squared"))
    distance = np.arange(6)[None, :] - np.arange(6)[:, None]
    assert bias.kind == "score bias" and bias.own.shape == (2, 6, 6)
    np.testing.assert_allclose(bias.own[1], -(distance**2) / 100.0, atol=1e-7)
