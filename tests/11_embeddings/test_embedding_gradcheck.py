"""float64 central-difference checks of the lookup, RoPE and the learned positional table."""

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor
from tinytorch.testing import numerical_gradient
from tinytorch.text.embeddings import Embedding, PositionalEncoding, RotaryEmbedding

RTOL, ATOL = 1e-6, 1e-8


def _contracted(fn, upstream):
    """loss() = sum(fn() * upstream), evaluated without recording a graph."""

    def loss() -> float:
        with no_grad():
            return float(np.sum(fn().data * upstream))

    return loss


def test_lookup_gradient_matches_central_differences(rng):
    table = Embedding.from_pretrained(
        Tensor(rng.standard_normal((6, 3)), dtype=np.float64), freeze=False
    )
    ids = np.array([[0, 5, 5], [2, 0, 5]])  # repeats: the gradient must add them up
    upstream = rng.standard_normal((2, 3, 3))
    out = table(ids)
    assert out.dtype == np.float64
    out.backward(upstream)
    expected = numerical_gradient(_contracted(lambda: table(ids), upstream), table.weight.data)
    np.testing.assert_allclose(table.weight.grad, expected, rtol=RTOL, atol=ATOL)
    assert np.all(expected[[1, 3, 4]] == 0)


def test_rope_gradient_matches_central_differences(rng):
    rope = RotaryEmbedding(6)
    x = Tensor(rng.standard_normal((2, 3, 4, 6)), requires_grad=True, dtype=np.float64)
    upstream = rng.standard_normal(x.shape)
    out = rope(x, offset=5)
    assert out.dtype == np.float64
    out.backward(upstream)
    expected = numerical_gradient(_contracted(lambda: rope(x, offset=5), upstream), x.data)
    np.testing.assert_allclose(x.grad, expected, rtol=RTOL, atol=ATOL)


def test_learned_positions_gradient_matches_central_differences(rng):
    positions = PositionalEncoding(max_seq_len=7, embed_dim=3).to(np.float64)
    x = Tensor(rng.standard_normal((2, 4, 3)), requires_grad=True, dtype=np.float64)
    upstream = rng.standard_normal(x.shape)
    positions(x, offset=2).backward(upstream)
    loss = _contracted(lambda: positions(x, offset=2), upstream)
    np.testing.assert_allclose(x.grad, numerical_gradient(loss, x.data), rtol=RTOL, atol=ATOL)
    expected_table = numerical_gradient(loss, positions.weight.data)
    np.testing.assert_allclose(positions.weight.grad, expected_table, rtol=RTOL, atol=ATOL)
    # Only rows 2..5 were used; the batch of two adds both rows' gradients.
    np.testing.assert_allclose(positions.weight.grad[2:6], upstream.sum(axis=0), rtol=1e-12)
    assert np.all(positions.weight.grad[[0, 1, 6]] == 0)
