"""The token table's numbers: PCA projection, nearest neighbours, memory and parameter share."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.inspection import (
    embedding_memory,
    embedding_projection,
    neighbour_table,
)

from .conftest import POSITION_SCHEMES


def _pca_by_hand(table: np.ndarray, fit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Independent PCA: eigenvectors of the covariance of the fitted rows, largest first."""
    centred = fit - fit.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
    order = np.argsort(eigenvalues)[::-1]
    return (table - fit.mean(axis=0)) @ eigenvectors[:, order[:2]], eigenvalues[order] / (
        eigenvalues.sum()
    )


@pytest.mark.parametrize("pos_encoding", POSITION_SCHEMES)
def test_projection_equals_an_independent_pca_up_to_the_documented_signs(
    make_gpt, pos_encoding
) -> None:
    weight = make_gpt(40, pos_encoding).embedding.token_embedding.weight.data
    weight = weight + np.linspace(0.0, 0.3, 16, dtype=np.float32)  # a non-zero mean to remove
    coords, ratio = embedding_projection(weight)
    expected, expected_ratio = _pca_by_hand(weight.astype(np.float64), weight.astype(np.float64))
    assert coords.shape == (40, 2) and coords.dtype == np.float32
    # Sign convention: each axis's largest-magnitude entry is positive. The axis is recovered
    # from the coordinates (coords = centred @ axis), so the check does not trust the code.
    centred = weight.astype(np.float64) - weight.mean(axis=0, dtype=np.float64)
    axes = np.linalg.lstsq(centred, coords.astype(np.float64), rcond=None)[0]
    for k in range(2):
        assert axes[np.abs(axes[:, k]).argmax(), k] > 0
        sign = np.sign(expected[:, k] @ coords[:, k])
        np.testing.assert_allclose(coords[:, k], sign * expected[:, k], atol=1e-5)
    np.testing.assert_allclose(ratio, expected_ratio[:2], rtol=1e-5)
    assert 0.0 <= ratio[1] <= ratio[0] <= 1.0
    assert expected_ratio[:2].sum() < 1.0  # two axes do not hold everything: a real check


def test_projection_fitted_on_some_rows_projects_every_row_onto_their_axes(rng) -> None:
    table = rng.standard_normal((12, 5)).astype(np.float32)
    table[:3] *= 0.01  # "unused" rows near zero
    used = np.arange(12) >= 3
    coords, ratio = embedding_projection(table, fit_rows=used)
    expected, expected_ratio = _pca_by_hand(table.astype(np.float64), table[used].astype(float))
    np.testing.assert_allclose(np.abs(coords), np.abs(expected), atol=1e-5)
    np.testing.assert_allclose(ratio, expected_ratio[:2], rtol=1e-5)
    full, _ = embedding_projection(table)
    assert not np.allclose(np.abs(full), np.abs(coords), atol=1e-3)


def test_projection_of_identical_rows_has_zero_variance_not_nan() -> None:
    coords, ratio = embedding_projection(np.ones((4, 3), np.float32))
    assert np.array_equal(coords, np.zeros((4, 2), np.float32))
    assert np.array_equal(ratio, np.zeros(2, np.float32))


def test_projection_refuses_more_axes_than_the_table_has() -> None:
    with pytest.raises(ValueError, match="n_components=3 exceeds the 2 axes"):
        embedding_projection(np.ones((2, 5), np.float32), n_components=3)


def test_neighbours_match_a_brute_force_cosine_search(make_gpt) -> None:
    weight = make_gpt(30, "learned").embedding.token_embedding.weight.data
    weight[7] = weight[3] * 2.0  # 3's nearest must be 7 (cosine 1), whatever the norm
    queries = [3, 0, 29, 11]
    table = neighbour_table(weight, queries, k=4)
    assert table.ids.shape == (4, 4) and table.similarities.shape == (4, 4)
    for row, query in enumerate(queries):
        brute = []
        for other in range(30):
            if other != query:
                a, b = weight[query].astype(float), weight[other].astype(float)
                brute.append((-(a @ b) / np.linalg.norm(a) / np.linalg.norm(b), other))
        brute.sort()
        assert table.ids[row].tolist() == [other for _, other in brute[:4]]
        np.testing.assert_allclose(table.similarities[row], [-s for s, _ in brute[:4]], atol=1e-6)
    assert table.ids[0, 0] == 7 and table.similarities[0, 0] == pytest.approx(1.0, abs=1e-6)
    assert table.query_ids.tolist() == queries


@pytest.mark.parametrize("tie_weights", [True, False])
@pytest.mark.parametrize("pos_encoding", ["learned", "rope"])
def test_memory_is_v_times_d_times_4_and_the_share_counts_a_tied_head_once(
    make_gpt, pos_encoding, tie_weights
) -> None:
    vocab, dim, layers, max_len = 37, 16, 2, 16
    memory = embedding_memory(make_gpt(vocab, pos_encoding, tie_weights=tie_weights))
    assert memory.table_bytes == vocab * dim * 4 == 2368
    assert memory.gradient_bytes == vocab * dim * 4
    assert memory.adamw_state_bytes == 2 * vocab * dim * 4
    assert memory.training_bytes == 4 * vocab * dim * 4
    # By hand: per block 2 LayerNorms (2 * 2D), q/k/v/out (4 * (D*D + D)), MLP (D*4D + 4D +
    # 4D*D + D); final LayerNorm 2D; the token table V*D; the head V*D only when untied.
    block = 2 * 2 * dim + 4 * (dim * dim + dim) + (dim * 4 * dim + 4 * dim + 4 * dim * dim + dim)
    total = vocab * dim + layers * block + 2 * dim
    total += max_len * dim if pos_encoding == "learned" else 0
    total += 0 if tie_weights else vocab * dim
    assert memory.model_parameters == total
    assert memory.table_parameters == vocab * dim
    assert memory.parameter_share == pytest.approx(vocab * dim / total)
    assert memory.tied_head is tie_weights
