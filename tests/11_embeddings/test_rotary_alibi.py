"""RoPE and ALiBi: values from the papers' formulas and the properties that make them work."""

import math

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor
from tinytorch.text.embeddings import RotaryEmbedding, alibi_bias, alibi_slopes


# ------------------------------------------------------------------------------- RoPE
def _rope_complex(x: np.ndarray, positions: np.ndarray, base: float = 10000.0) -> np.ndarray:
    """Independent oracle: pair (x[2i], x[2i+1]) as a complex number times e^(i pos theta_i)."""
    head_dim = x.shape[-1]
    theta = base ** (-np.arange(0, head_dim, 2) / head_dim)
    pairs = (x[..., 0::2] + 1j * x[..., 1::2]) * np.exp(1j * positions[:, None] * theta)
    out = np.empty(x.shape, dtype=np.float64)
    out[..., 0::2], out[..., 1::2] = pairs.real, pairs.imag
    return out


def test_rope_values_by_hand_for_head_dim_4():
    x = Tensor(np.array([[1.0, 2.0, 3.0, 4.0]]), dtype=np.float64)
    out = RotaryEmbedding(4)(x, offset=1).data[0]
    c0, s0 = math.cos(1.0), math.sin(1.0)  # pair 0: angle 1 * 10000^0
    c1, s1 = math.cos(0.01), math.sin(0.01)  # pair 1: angle 1 * 10000^(-2/4)
    expected = [1 * c0 - 2 * s0, 1 * s0 + 2 * c0, 3 * c1 - 4 * s1, 3 * s1 + 4 * c1]
    np.testing.assert_allclose(out, expected, rtol=1e-14)


@pytest.mark.parametrize("base", [10000.0, 500.0])
def test_rope_matches_complex_rotation_oracle(rng, base):
    x = rng.standard_normal((2, 3, 7, 8))
    offset = 11
    expected = _rope_complex(x, np.arange(offset, offset + 7), base)
    rope = RotaryEmbedding(8, base=base)
    np.testing.assert_allclose(
        rope(Tensor(x, dtype=np.float64), offset).data, expected, rtol=1e-12, atol=1e-12
    )
    out32 = rope(Tensor(x.astype(np.float32)), offset)
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32.data, expected, rtol=1e-5, atol=1e-5)


def test_rope_position_zero_is_identity_and_norms_are_preserved(rng):
    x = rng.standard_normal((4, 50, 16)).astype(np.float32)
    out = RotaryEmbedding(16)(x).data
    np.testing.assert_array_equal(out[:, 0], x[:, 0])
    assert not np.allclose(out[:, 1:], x[:, 1:])
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-5)
    pair_norms = np.hypot(out[..., 0::2], out[..., 1::2])
    np.testing.assert_allclose(pair_norms, np.hypot(x[..., 0::2], x[..., 1::2]), rtol=1e-5)


def test_rope_dot_product_depends_only_on_relative_position(rng):
    rope = RotaryEmbedding(8)
    q = Tensor(rng.standard_normal((1, 8)), dtype=np.float64)
    k = Tensor(rng.standard_normal((1, 8)), dtype=np.float64)

    def score(m: int, n: int) -> float:
        return float(rope(q, offset=m).data[0] @ rope(k, offset=n).data[0])

    for shift in (0, 1, 5, 300):
        assert score(7, 3) == pytest.approx(score(7 + shift, 3 + shift), rel=1e-10)
    assert score(7, 3) != pytest.approx(score(7, 4), rel=1e-3)


def test_rope_offset_equals_slicing_a_longer_sequence_and_grows_past_any_table(rng):
    rope = RotaryEmbedding(4)
    x = rng.standard_normal((2, 10, 4)).astype(np.float32)
    whole = rope(x).data
    np.testing.assert_array_equal(rope(x[:, 6:9], offset=6).data, whole[:, 6:9])
    far = rope(x[:, :3], offset=100_000).data  # no maximum length: tables grow on demand
    expected = _rope_complex(x[:, :3].astype(np.float64), np.arange(100_000, 100_003))
    np.testing.assert_allclose(far, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(rope(x[:, 6:9], offset=6).data, whole[:, 6:9])


def test_rope_backward_rotates_the_gradient_back(rng):
    rope = RotaryEmbedding(6)
    x = Tensor(rng.standard_normal((3, 5, 6)), requires_grad=True, dtype=np.float64)
    upstream = rng.standard_normal((3, 5, 6))
    rope(x, offset=2).backward(upstream)
    # d/dx sum(R x * u) = R^T u, and rotating R^T u forward again gives u back.
    np.testing.assert_allclose(
        rope(Tensor(x.grad, dtype=np.float64), offset=2).data, upstream, rtol=1e-12, atol=1e-12
    )


def test_rope_is_a_permutation_of_the_rotate_half_layout(rng):
    """HF/LLaMA rotate_half pairs feature i with i + d/2: the same rotation, features permuted."""
    head_dim, positions = 8, np.arange(5)
    x = rng.standard_normal((5, head_dim))
    theta = 10000.0 ** (-np.arange(0, head_dim, 2) / head_dim)
    angles = np.concatenate([positions[:, None] * theta] * 2, axis=1)
    perm = np.r_[0:head_dim:2, 1:head_dim:2]  # interleaved -> halves
    halves = x[:, perm]
    rotate_half = np.concatenate([-halves[:, head_dim // 2 :], halves[:, : head_dim // 2]], axis=1)
    hf = halves * np.cos(angles) + rotate_half * np.sin(angles)
    ours = RotaryEmbedding(head_dim)(Tensor(x, dtype=np.float64)).data
    np.testing.assert_allclose(ours[:, perm], hf, rtol=1e-12, atol=1e-12)


def test_rope_has_no_parameters():
    rope = RotaryEmbedding(8)
    assert list(rope.parameters()) == [] and rope.state_dict() == {}


# ------------------------------------------------------------------------------ ALiBi
def test_alibi_slopes_for_eight_heads_are_halves_down_to_1_over_256():
    slopes = alibi_slopes(8)
    assert slopes.dtype == np.float32 and slopes.shape == (8,)
    np.testing.assert_array_equal(slopes, [1 / 2**k for k in range(1, 9)])


@pytest.mark.parametrize(
    "num_heads, exponents",
    [
        (1, [8]),
        (2, [4, 8]),
        (16, [k / 2 for k in range(1, 17)]),
        # Not powers of two: slopes of the lower power of two m, then every other slope of 2m.
        (6, [2, 4, 6, 8] + [1, 3]),
        (12, [1, 2, 3, 4, 5, 6, 7, 8] + [0.5, 1.5, 2.5, 3.5]),
        (5, [2, 4, 6, 8] + [1]),
    ],
)
def test_alibi_slopes_follow_the_papers_rule(num_heads, exponents):
    np.testing.assert_allclose(alibi_slopes(num_heads), [2.0**-e for e in exponents], rtol=1e-7)


def test_alibi_bias_values_with_offset():
    bias = alibi_bias(num_heads=2, q_len=3, k_len=6, offset=2)
    assert bias.dtype == np.float32 and bias.shape == (2, 3, 6)
    slopes = [2.0**-4, 2.0**-8]
    for h in range(2):
        for i in range(3):
            for j in range(6):
                assert bias[h, i, j] == pytest.approx(-slopes[h] * abs(j - (2 + i)), abs=0)
    np.testing.assert_array_equal(bias[:, [0, 1, 2], [2, 3, 4]], 0)  # each query's own position


def test_alibi_bias_without_offset_is_symmetric_and_grows_with_distance():
    bias = alibi_bias(4, 5, 5)
    np.testing.assert_array_equal(bias, bias.transpose(0, 2, 1))
    assert np.all(np.diff(bias[:, 0, :], axis=-1) < 0)  # further keys, larger penalty
