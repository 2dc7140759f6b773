"""ALiBi (Press et al. 2022): position information as a per-head linear penalty on distance.

Instead of adding positions to the token vectors, attention adds `-slope_h * |key - query|` to the
scores of head h. Nothing is learned and there is no maximum length, which is why ALiBi models
extrapolate to sequences longer than they were trained on.
"""

from __future__ import annotations

import math

import numpy as np

from tinytorch.core.layers import _check_positive
from tinytorch.text._checks import check_non_negative


def _power_of_two_slopes(num_heads: int) -> list[float]:
    """The geometric sequence 2^(-8/n), 2^(-16/n), ..., 2^(-8) for n a power of two."""
    return [2.0 ** (-8.0 * k / num_heads) for k in range(1, num_heads + 1)]


def _slopes(num_heads: int) -> list[float]:
    """The paper's rule (`get_slopes` in the ALiBi repository), also for non-powers of two."""
    if math.log2(num_heads).is_integer():
        return _power_of_two_slopes(num_heads)
    # Take the slopes of the closest lower power of two m, then every other slope of 2m.
    lower = 2 ** math.floor(math.log2(num_heads))
    return _power_of_two_slopes(lower) + _slopes(2 * lower)[0::2][: num_heads - lower]


def alibi_slopes(num_heads: int) -> np.ndarray:
    """Per-head slopes, float32 of shape (num_heads,); 8 heads give 1/2, 1/4, ..., 1/256."""
    _check_positive(num_heads=num_heads)
    return np.asarray(_slopes(int(num_heads)), dtype=np.float32)


def alibi_bias(num_heads: int, q_len: int, k_len: int, offset: int = 0) -> np.ndarray:
    """Additive attention bias, float32 (num_heads, q_len, k_len).

    `bias[h, i, j] = -slope_h * |j - (offset + i)|`: query i sits at absolute position
    `offset + i` (incremental decoding), keys at 0..k_len-1. Causal masking is the caller's job.
    """
    _check_positive(num_heads=num_heads)
    check_non_negative(q_len=q_len, k_len=k_len, offset=offset)
    slopes = np.asarray(_slopes(int(num_heads)), dtype=np.float64)
    query_pos = np.arange(offset, offset + q_len, dtype=np.float64)[:, None]
    distance = np.abs(np.arange(k_len, dtype=np.float64)[None, :] - query_pos)
    return (-slopes[:, None, None] * distance).astype(np.float32)
