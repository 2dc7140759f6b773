import numpy as np
import pytest
import torch

from tinytorch.core import scaled_dot_product
from tinytorch.core.attention import KVCache, MultiHeadAttention
from tinytorch.core.autograd import no_grad
from tinytorch.core.random import manual_seed
from tinytorch.core.tensor import Tensor
from tinytorch.text.positions import position_scheme

RTOL, ATOL = 1e-4, 1e-5


def _positions(name, embed_dim, num_heads):
    """What the named scheme does inside attention (None for "none")."""
    return position_scheme(name).build_attention(embed_dim, num_heads)


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _heads(mha, x, name):
    """(B, T, E) @ proj -> (B, H, T, hd) in float64 NumPy, for hand-written references."""
    proj = getattr(mha, f"{name}_proj")
    y = x.astype(np.float64) @ proj.weight.data.T + proj.bias.data
    b, t, _ = x.shape
    return y.reshape(b, t, mha.num_heads, mha.head_dim).transpose(0, 2, 1, 3)


def _merge_heads(mha, out):
    """Per-head outputs (B, H, T, hd) -> out_proj of the concatenated heads."""
    b, _, t, _ = out.shape
    merged = out.transpose(0, 2, 1, 3).reshape(b, t, mha.embed_dim)
    return merged @ mha.out_proj.weight.data.T + mha.out_proj.bias.data


def _softmax(scores):
    e = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_alibi_attention_matches_a_numpy_reference():
    manual_seed(0)
    mha = MultiHeadAttention(16, 4, positions=_positions("alibi", 16, 4))
    x = _x(2, 6, 16)
    q, k, v = (_heads(mha, x, n) for n in "qkv")
    slopes = np.array([2.0**-2, 2.0**-4, 2.0**-6, 2.0**-8])  # Press et al., 4 heads
    i, j = np.arange(6)[:, None], np.arange(6)[None, :]
    bias = -slopes[:, None, None] * np.abs(j - i)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(4) + bias
    scores = np.where(j <= i, scores, -np.inf)
    expected = _merge_heads(mha, _softmax(scores) @ v)
    np.testing.assert_allclose(mha(x, is_causal=True).data, expected, rtol=RTOL, atol=ATOL)


def test_rope_attention_matches_a_reference_with_explicitly_rotated_pairs():
    manual_seed(1)
    mha = MultiHeadAttention(16, 2, positions=_positions("rope", 16, 2))
    x = _x(2, 5, 16)
    q, k, v = (_heads(mha, x, n) for n in "qkv")
    hd = mha.head_dim
    angle = np.arange(5)[:, None] * 10000.0 ** (-np.arange(0, hd, 2) / hd)

    def rotate(a):  # pairs (2i, 2i+1) rotated by pos * base^(-2i/hd)
        out = np.empty_like(a)
        out[..., 0::2] = a[..., 0::2] * np.cos(angle) - a[..., 1::2] * np.sin(angle)
        out[..., 1::2] = a[..., 0::2] * np.sin(angle) + a[..., 1::2] * np.cos(angle)
        return out

    ref = torch.nn.functional.scaled_dot_product_attention(
        torch.tensor(rotate(q)), torch.tensor(rotate(k)), torch.tensor(v), is_causal=True
    ).numpy()
    expected = _merge_heads(mha, ref)
    np.testing.assert_allclose(mha(x, is_causal=True).data, expected, rtol=RTOL, atol=ATOL)


def test_rope_scores_depend_only_on_relative_position():
    # The same token at every position: with rope, score(m, n) = s(m - n). Softmax normalisation
    # cancels in log-weight differences within a row, so log w[m, m-a] - log w[m, m-b] must not
    # depend on m.
    manual_seed(2)
    mha = MultiHeadAttention(8, 1, positions=_positions("rope", 8, 1))
    x = np.tile(_x(1, 1, 8), (1, 12, 1))
    _, weights = mha(x, need_weights=True)
    log_w = np.log(weights.data[0, 0].astype(np.float64))
    for a, b in ((0, 1), (1, 3), (2, -4), (-1, 5)):
        rows = [m for m in range(12) if 0 <= m - a < 12 and 0 <= m - b < 12]
        diffs = np.array([log_w[m, m - a] - log_w[m, m - b] for m in rows])
        np.testing.assert_allclose(diffs, diffs[0], atol=1e-4)
        assert len(rows) >= 6
    # ...and the scores do vary with the distance (rope is not a no-op).
    assert np.ptp(log_w[6]) > 1e-3


@pytest.mark.parametrize("block_rows", [64, 1], ids=["one_block", "row_blocks"])
@pytest.mark.parametrize("pos_encoding", [None, "rope", "alibi"])
@pytest.mark.parametrize("chunks", [[1] * 7, [3, 1, 2, 1]], ids=["token_by_token", "chunked"])
def test_kv_cache_matches_the_full_causal_forward(monkeypatch, block_rows, pos_encoding, chunks):
    monkeypatch.setattr(scaled_dot_product, "_CAUSAL_BLOCK_ROWS", block_rows)
    manual_seed(3)
    mha = MultiHeadAttention(16, 4, positions=_positions(pos_encoding, 16, 4))
    x = _x(2, 7, 16)
    with no_grad():
        full = mha(x, is_causal=True).data
        cache, outs, start = KVCache(), [], 0
        for size in chunks:
            outs.append(mha(x[:, start : start + size], is_causal=True, kv_cache=cache).data)
            start += size
            assert cache.length == start
    np.testing.assert_allclose(np.concatenate(outs, axis=1), full, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("block_rows", [64, 1], ids=["one_block", "row_blocks"])
def test_causal_mask_is_bottom_right_aligned(monkeypatch, block_rows):
    # 5 queries, 3 keys: query i sits at absolute position 3 - 5 + i, so queries 0 and 1 see no
    # key at all (their attention output is zero, leaving only out_proj's bias) and query 4 sees
    # all three.
    monkeypatch.setattr(scaled_dot_product, "_CAUSAL_BLOCK_ROWS", block_rows)
    manual_seed(5)
    mha = MultiHeadAttention(8, 2)
    query, memory = Tensor(_x(2, 5, 8), requires_grad=True), _x(2, 3, 8, seed=1)
    out, weights = mha(query, memory, is_causal=True, need_weights=True)
    np.testing.assert_array_equal(
        out.data[:, :2], np.broadcast_to(mha.out_proj.bias.data, (2, 2, 8))
    )
    allowed = np.tri(5, 3, -2, dtype=bool)
    assert np.all(weights.data[..., ~allowed] == 0)
    np.testing.assert_allclose(weights.data.sum(-1)[..., 2:], 1.0, rtol=1e-6)
    out.sum().backward()
    assert np.all(query.grad[:, :2] == 0) and np.all(np.isfinite(query.grad))


def test_kv_cache_step_with_grad_gives_the_full_forward_gradient_for_that_step():
    manual_seed(4)
    mha = MultiHeadAttention(16, 4, positions=_positions("rope", 16, 4))
    x = _x(2, 6, 16)
    weights = _x(2, 2, 16, seed=1)
    full_x = Tensor(x, requires_grad=True)
    (mha(full_x, is_causal=True)[:, 4:] * Tensor(weights)).sum().backward()
    full_grads = {n: p.grad for n, p in mha.named_parameters()}

    mha.zero_grad()
    cache = KVCache()
    with no_grad():
        mha(x[:, :4], is_causal=True, kv_cache=cache)
    step_x = Tensor(x[:, 4:], requires_grad=True)
    (mha(step_x, is_causal=True, kv_cache=cache) * Tensor(weights)).sum().backward()
    # The last two positions' inputs only reach the loss through this step, so their gradient
    # is complete; parameters also influence the cached prefix, which carries no graph.
    np.testing.assert_allclose(step_x.grad, full_x.grad[:, 4:], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(
        mha.q_proj.weight.grad, full_grads["q_proj.weight"], rtol=RTOL, atol=ATOL
    )


def test_kv_cache_grows_and_keeps_earlier_entries():
    cache = KVCache()
    assert cache.length == 0 and cache.keys is None
    steps = [_x(1, 2, n, 3, seed=n) for n in (1, 4, 1, 9)]
    for step in steps:
        keys, values = cache.append(step, step * 2)
    expected = np.concatenate(steps, axis=2)
    assert cache.length == 15
    np.testing.assert_array_equal(keys, expected)
    np.testing.assert_array_equal(values, expected * 2)
    with pytest.raises(ValueError, match="cannot append"):
        cache.append(_x(2, 2, 1, 3), _x(2, 2, 1, 3))
    with pytest.raises(ValueError, match="matching"):
        cache.append(_x(1, 2, 1, 3), _x(1, 2, 2, 3))


def test_kv_cache_is_for_self_attention_only_and_survives_a_rejected_call():
    mha = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match="self-attention"):
        mha(_x(1, 2, 8), _x(1, 3, 8), kv_cache=KVCache())
    cache = KVCache()
    with no_grad():
        mha(_x(1, 3, 8), is_causal=True, kv_cache=cache)
        # Masks cover every cached key: 3 cached + 1 new = 4, so (1, 1) is rejected...
        with pytest.raises(ValueError, match=r"\(1, 4\), got \(1, 1\)"):
            mha(_x(1, 1, 8), key_padding_mask=np.ones((1, 1), bool), kv_cache=cache)
        assert cache.length == 3  # ...before anything was appended
        mha(_x(1, 1, 8), key_padding_mask=np.ones((1, 4), bool), kv_cache=cache)
    assert cache.length == 4
