"""Learned and sinusoidal absolute positions: known values, offsets, buffers vs parameters."""

import math

import numpy as np
import pytest

from tinytorch.core.random import manual_seed
from tinytorch.core.tensor import Tensor
from tinytorch.text.embeddings import (
    PositionalEncoding,
    SinusoidalPositionalEncoding,
    create_sinusoidal_embeddings,
)


def _formula(pos: int, dim: int, embed_dim: int, base: float = 10000.0) -> float:
    """Vaswani et al., interleaved: even columns sin, odd columns cos of the pair's angle."""
    angle = pos / base ** ((dim - dim % 2) / embed_dim)
    return math.sin(angle) if dim % 2 == 0 else math.cos(angle)


def test_sinusoidal_known_answers_from_design():
    table = create_sinusoidal_embeddings(2, 4)
    assert table.dtype == np.float32 and table.shape == (2, 4)
    np.testing.assert_array_equal(table[0], [0, 1, 0, 1])
    np.testing.assert_allclose(table[1], [0.84147098, 0.54030231, 0.00999983, 0.99995], rtol=1e-6)


@pytest.mark.parametrize("embed_dim, base", [(6, 10000.0), (5, 10000.0), (8, 500.0)])
def test_sinusoidal_matches_formula_everywhere(embed_dim, base):
    table = create_sinusoidal_embeddings(300, embed_dim, base=base)
    for pos in (0, 1, 7, 123, 299):
        expected = [_formula(pos, d, embed_dim, base) for d in range(embed_dim)]
        np.testing.assert_allclose(table[pos], expected, rtol=1e-6, atol=1e-7)


def test_odd_embed_dim_ends_with_a_sin_column():
    table = create_sinusoidal_embeddings(50, 5)
    np.testing.assert_allclose(table[:, 4], np.sin(np.arange(50) / 10000 ** (4 / 5)), rtol=1e-6)


def test_sinusoidal_module_adds_rows_and_keeps_table_out_of_training():
    module = SinusoidalPositionalEncoding(16, 4)
    assert list(module.parameters()) == []
    assert module.state_dict() == {}  # non-persistent: rebuilt from the formula, not saved
    x = Tensor(np.ones((2, 3, 4), np.float32), requires_grad=True)
    out = module(x, offset=5)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data[1], 1 + create_sinusoidal_embeddings(16, 4)[5:8])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 3, 4), np.float32))


def test_learned_positions_are_a_trained_table_initialised_small():
    manual_seed(3)
    module = PositionalEncoding(max_seq_len=1000, embed_dim=64)
    assert [name for name, _ in module.named_parameters()] == ["weight"]
    table = module.weight.data
    assert table.dtype == np.float32 and table.shape == (1000, 64)
    assert abs(table.std() - 0.02) < 1e-3 and abs(table.mean()) < 1e-3
    x = Tensor(np.zeros((3, 64), np.float32))
    np.testing.assert_array_equal(module(x, offset=10).data, table[10:13])


@pytest.mark.parametrize("module_cls", [PositionalEncoding, SinusoidalPositionalEncoding])
def test_offset_equals_slicing_a_longer_sequence(rng, module_cls):
    """Incremental decoding: positions t.. of a step equal rows t.. of the whole sequence."""
    module = module_cls(12, 6)
    x = Tensor(rng.standard_normal((2, 9, 6)).astype(np.float32))
    whole = module(x).data
    np.testing.assert_array_equal(module(x[:, 4:7], offset=4).data, whole[:, 4:7])
    np.testing.assert_array_equal(module(x[:, 8:9], offset=8).data, whole[:, 8:9])


@pytest.mark.parametrize("module_cls", [PositionalEncoding, SinusoidalPositionalEncoding])
def test_full_length_fits_and_one_more_does_not(module_cls):
    module = module_cls(8, 4)
    assert module(np.zeros((8, 4), np.float32)).shape == (8, 4)
    with pytest.raises(ValueError, match=r"9.*exceeds maximum.*8"):
        module(np.zeros((9, 4), np.float32))
    with pytest.raises(ValueError, match=r"9.*exceeds maximum.*8"):
        module(np.zeros((4, 4), np.float32), offset=5)
