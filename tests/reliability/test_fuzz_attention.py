"""Property-based fuzzing of attention with random masks.

For random shapes and random bool, additive-float or causal masks: nothing is NaN (outputs,
weights, gradients); a query row that may attend to something has weights summing to 1, zero
where masked, equal to a float64 NumPy reference; a row that may attend to nothing yields zero
weights and a zero output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch.core.attention import MultiHeadAttention, scaled_dot_product_attention
from tinytorch.core.tensor import Tensor

# Biases of moderate size (float32 keeps ~1e-6 of a score next to them, so the reference
# comparison holds) and -inf; extreme finite values get their own test below.
ADDITIVE = st.one_of(st.floats(-20, 20, width=32), st.just(-np.inf))
FLOAT32_MAX = float(np.finfo(np.float32).max)
EXTREME = st.sampled_from([-np.inf, -FLOAT32_MAX, -1e30, 0.0, 1e30, FLOAT32_MAX])


@st.composite
def attention_inputs(draw, additive=ADDITIVE):
    """q, k, v of random sizes and a mask: bool, additive float, causal, or none."""
    batch, heads = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    q_len, k_len, dim = draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    q, k, v = (
        rng.standard_normal((batch, heads, n, dim)).astype(np.float32)
        for n in (q_len, k_len, k_len)
    )
    kind = draw(st.sampled_from(["bool", "float", "causal", "none"]))
    mask = None
    if kind in ("bool", "float"):
        shape = draw(
            st.sampled_from(
                [(q_len, k_len), (batch, 1, q_len, k_len), (batch, heads, q_len, k_len),
                 (1, k_len), (q_len, 1)]
            )
        )  # fmt: skip
        if kind == "bool":
            mask = draw(hnp.arrays(np.bool_, shape))
        else:
            mask = draw(hnp.arrays(np.float32, shape, elements=additive))
    return q, k, v, mask, kind == "causal"


def _reference(q, k, v, mask, is_causal):
    """Float64 masked softmax attention; rows with nothing allowed give zeros."""
    q_len, k_len = q.shape[-2], k.shape[-2]
    scores = (q.astype(np.float64) @ np.swapaxes(k, -1, -2)) / math.sqrt(q.shape[-1])
    if is_causal:
        mask = np.tri(q_len, k_len, dtype=bool)
    bias = np.zeros((q_len, k_len)) if mask is None else mask.astype(np.float64)
    if mask is not None and mask.dtype == np.bool_:
        bias = np.where(mask, 0.0, -np.inf)
    scores = scores + bias
    allowed = np.isfinite(scores)
    row_max = np.where(allowed, scores, -np.inf).max(-1, keepdims=True)
    exp = np.where(allowed, np.exp(scores - np.where(np.isfinite(row_max), row_max, 0.0)), 0.0)
    total = exp.sum(-1, keepdims=True)
    weights = np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)
    return weights, weights @ v, allowed.any(-1)


@settings(max_examples=150, deadline=None)
@given(attention_inputs())
def test_sdpa_with_random_masks_is_finite_normalised_and_matches_numpy(inputs):
    q, k, v, mask, is_causal = inputs
    q_t, k_t, v_t = (Tensor(x, requires_grad=True) for x in (q, k, v))
    out, weights = scaled_dot_product_attention(
        q_t, k_t, v_t, attn_mask=mask, is_causal=is_causal, return_weights=True
    )
    ref_weights, ref_out, attends = _reference(q, k, v, mask, is_causal)

    assert np.isfinite(out.data).all() and np.isfinite(weights.data).all()
    sums = weights.data.sum(-1)
    np.testing.assert_allclose(sums[attends], 1.0, rtol=0, atol=1e-5)
    assert (weights.data[~attends] == 0).all() and (out.data[~attends] == 0).all()
    assert (weights.data[ref_weights == 0] == 0).all()  # masked keys get exactly nothing
    np.testing.assert_allclose(weights.data, ref_weights, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out.data, ref_out, rtol=1e-4, atol=1e-5)

    upstream = np.random.default_rng(0).standard_normal(out.shape).astype(np.float32)
    (out * upstream).sum().backward()
    for t in (q_t, k_t, v_t):
        assert np.isfinite(t.grad).all()
    assert (q_t.grad[~attends] == 0).all()  # a row that sees nothing has no gradient


# -FLOAT32_MAX - FLOAT32_MAX overflows to -inf inside the softmax: the right answer (weight 0),
# which NumPy reports with a RuntimeWarning.
@pytest.mark.filterwarnings("ignore:overflow encountered in subtract:RuntimeWarning")
@settings(max_examples=60, deadline=None)
@given(attention_inputs(additive=EXTREME))
def test_sdpa_with_extreme_finite_masks_never_gives_nan(inputs):
    q, k, v, mask, is_causal = inputs
    out, weights = scaled_dot_product_attention(
        q, k, v, attn_mask=mask, is_causal=is_causal, return_weights=True
    )
    _, _, attends = _reference(q, k, v, mask, is_causal)
    assert np.isfinite(out.data).all() and np.isfinite(weights.data).all()
    np.testing.assert_allclose(weights.data.sum(-1)[attends], 1.0, rtol=0, atol=1e-5)
    assert (out.data[~attends] == 0).all()


@settings(max_examples=60, deadline=None)
@given(
    batch=st.integers(1, 3),
    length=st.integers(1, 6),
    heads=st.sampled_from([1, 2, 4]),
    is_causal=st.booleans(),
    data=st.data(),
)
def test_multi_head_attention_with_random_padding_never_gives_nan(
    batch, length, heads, is_causal, data
):
    mha = MultiHeadAttention(8, heads)
    x = np.random.default_rng(length).standard_normal((batch, length, 8)).astype(np.float32)
    padding = data.draw(hnp.arrays(np.bool_, (batch, length)))  # True = real token
    out, weights = mha(x, key_padding_mask=padding, is_causal=is_causal, need_weights=True)

    allowed = np.broadcast_to(padding[:, None, None, :], weights.shape)
    if is_causal:
        allowed = allowed & np.tri(length, dtype=bool)
    attends = allowed.any(-1)
    assert np.isfinite(out.data).all()
    np.testing.assert_allclose(weights.data.sum(-1)[attends], 1.0, rtol=0, atol=1e-5)
    assert (weights.data[~allowed] == 0).all()
