import numpy as np
import pytest
import torch

from tinytorch.core import scaled_dot_product
from tinytorch.core.attention import scaled_dot_product_attention
from tinytorch.core.random import manual_seed
from tinytorch.core.tensor import Tensor
from tinytorch.testing import numerical_gradient

RTOL, ATOL = 1e-4, 1e-5


def _inputs(q_shape, k_shape, v_shape, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in (q_shape, k_shape, v_shape)]


def _ours(q, k, v, grad_out, **kwargs):
    tensors = [Tensor(a, requires_grad=True) for a in (q, k, v)]
    out = scaled_dot_product_attention(*tensors, **kwargs)
    out.backward(grad_out)
    return out.data, [t.grad for t in tensors]


def _torch(q, k, v, grad_out, **kwargs):
    tensors = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    out = torch.nn.functional.scaled_dot_product_attention(*tensors, **kwargs)
    out.backward(torch.tensor(grad_out))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


def _random_bool_mask(shape, seed=1):
    """Random True/False with every row keeping at least one key (torch gives NaN otherwise)."""
    mask = np.random.default_rng(seed).random(shape) < 0.6
    mask[..., 0] = True
    return mask


SHAPES = {
    "3d": ((2, 5, 8), (2, 7, 8), (2, 7, 6)),
    "4d": ((2, 3, 5, 8), (2, 3, 7, 8), (2, 3, 7, 6)),
    "square": ((2, 3, 6, 4), (2, 3, 6, 4), (2, 3, 6, 4)),
    "broadcast_batch": ((2, 3, 5, 8), (1, 3, 7, 8), (3, 7, 6)),
    "longer_queries": ((2, 9, 4), (2, 4, 4), (2, 4, 5)),
    # Long enough for the causal path to split the queries into blocks (see _query_blocks).
    "long": ((1, 2, 200, 8), (1, 2, 230, 8), (1, 2, 230, 4)),
    "long_queries": ((2, 290, 4), (2, 260, 4), (2, 260, 3)),
}


@pytest.mark.parametrize("shapes", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("variant", ["plain", "bool_mask", "float_mask", "causal", "scale"])
def test_sdpa_matches_torch_forward_and_gradients(shapes, variant):
    q, k, v = _inputs(*shapes)
    scores_shape = (
        *np.broadcast_shapes(shapes[0][:-2], shapes[1][:-2]),
        shapes[0][-2],
        shapes[1][-2],
    )
    ours_kw, torch_kw = {}, {}
    if variant == "bool_mask":
        mask = _random_bool_mask(scores_shape[-2:])  # broadcast over the batch dims
        ours_kw = {"attn_mask": mask}
        torch_kw = {"attn_mask": torch.tensor(mask)}
    elif variant == "float_mask":
        mask = np.random.default_rng(2).standard_normal(scores_shape).astype(np.float32)
        ours_kw = {"attn_mask": mask}
        torch_kw = {"attn_mask": torch.tensor(mask)}
    elif variant == "causal":
        ours_kw = torch_kw = {"is_causal": True}
    elif variant == "scale":
        ours_kw = torch_kw = {"scale": 0.3}
    out_shape = (
        *np.broadcast_shapes(scores_shape[:-2], shapes[2][:-2]),
        shapes[0][-2],
        shapes[2][-1],
    )
    grad_out = np.random.default_rng(3).standard_normal(out_shape).astype(np.float32)

    out, grads = _ours(q, k, v, grad_out, **ours_kw)
    ref_out, ref_grads = _torch(q, k, v, grad_out, **torch_kw)

    assert out.dtype == np.float32 and out.shape == ref_out.shape
    np.testing.assert_allclose(out, ref_out, rtol=RTOL, atol=ATOL)
    for grad, ref, array in zip(grads, ref_grads, (q, k, v), strict=True):
        assert grad.dtype == np.float32 and grad.shape == array.shape
        np.testing.assert_allclose(grad, ref, rtol=RTOL, atol=ATOL)


def test_bool_mask_true_means_attend():
    # One key allowed per query: the output is exactly that key's value.
    q, k, v = _inputs((1, 3, 4), (1, 3, 4), (1, 3, 2))
    only = np.eye(3, dtype=bool)[::-1]
    out = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), attn_mask=only)
    np.testing.assert_allclose(out.data[0], v[0][::-1], rtol=1e-6)


def test_fully_masked_rows_give_zero_output_and_zero_finite_gradients():
    q, k, v = _inputs((2, 2, 4, 8), (2, 2, 5, 8), (2, 2, 5, 3))
    mask = _random_bool_mask((2, 2, 4, 5))
    mask[0, 1, 2] = False  # nothing to attend to
    mask[1, 0, 0] = False
    float_mask = np.where(mask, 0.0, -np.inf).astype(np.float32)
    grad_out = np.random.default_rng(4).standard_normal((2, 2, 4, 3)).astype(np.float32)
    torch_rows = np.ones((2, 2, 4), bool)
    torch_rows[0, 1, 2] = torch_rows[1, 0, 0] = False
    for attn_mask in (mask, float_mask):
        out, grads = _ours(q, k, v, grad_out, attn_mask=attn_mask)
        assert np.all(np.isfinite(out)) and all(np.all(np.isfinite(g)) for g in grads)
        assert np.all(out[0, 1, 2] == 0) and np.all(out[1, 0, 0] == 0)
        assert np.all(grads[0][0, 1, 2] == 0) and np.all(grads[0][1, 0, 0] == 0)

        # Torch gives NaN for empty rows (and the NaN leaks into every key's gradient). Give torch
        # those rows something to attend to and no upstream gradient: they then contribute
        # nothing, exactly like ours, and everything else must match.
        grad_kept = grad_out * torch_rows[..., None]
        torch_mask = attn_mask.copy()
        torch_mask[~torch_rows] = True if attn_mask.dtype == bool else 0.0
        ref_out, ref_grads = _torch(q, k, v, grad_kept, attn_mask=torch.tensor(torch_mask))
        _, kept_grads = _ours(q, k, v, grad_kept, attn_mask=attn_mask)
        # The empty rows' upstream gradient changes nothing anywhere:
        for grad, kept in zip(grads, kept_grads, strict=True):
            np.testing.assert_array_equal(grad, kept)
        np.testing.assert_allclose(out[torch_rows], ref_out[torch_rows], rtol=RTOL, atol=ATOL)
        for grad, ref in zip(kept_grads, ref_grads, strict=True):
            np.testing.assert_allclose(grad, ref, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("variant", ["plain", "bool_mask", "float_mask", "broadcast", "dropout"])
def test_sdpa_gradients_match_central_differences_in_float64(variant):
    rng = np.random.default_rng(5)
    q_shape, k_shape = ((2, 3, 4), (2, 5, 4)) if variant != "broadcast" else ((2, 3, 4), (5, 4))
    q = rng.standard_normal(q_shape)
    k = rng.standard_normal(k_shape)
    v = rng.standard_normal((*k_shape[:-1], 3))
    weights = rng.standard_normal((2, 3, 3))
    kwargs = {}
    if variant == "bool_mask":
        kwargs["attn_mask"] = _random_bool_mask((2, 3, 5))
    elif variant == "float_mask":
        kwargs["attn_mask"] = rng.standard_normal((3, 5))
    elif variant == "dropout":
        kwargs["dropout_p"] = 0.3

    def loss(arrays=(q, k, v), grad=False):
        manual_seed(7)  # the same dropout mask at every evaluation
        tensors = [Tensor(a, requires_grad=grad, dtype=np.float64) for a in arrays]
        out = scaled_dot_product_attention(*tensors, scale=0.7, **kwargs)
        total = (out * Tensor(weights, dtype=np.float64)).sum()
        if grad:
            total.backward()
            return [t.grad for t in tensors]
        return total.item()

    analytic = loss(grad=True)
    for array, grad in zip((q, k, v), analytic, strict=True):
        assert grad.dtype == np.float64
        np.testing.assert_allclose(grad, numerical_gradient(loss, array), rtol=1e-6, atol=1e-8)


def test_return_weights_are_the_softmax_probabilities():
    q, k, v = _inputs((2, 4, 8), (2, 6, 8), (2, 6, 3))
    mask = _random_bool_mask((4, 6))
    out, weights = scaled_dot_product_attention(
        Tensor(q), Tensor(k), Tensor(v), attn_mask=mask, return_weights=True
    )
    scores = torch.tensor(q) @ torch.tensor(k).transpose(-1, -2) / np.sqrt(8)
    ref = torch.softmax(scores.masked_fill(~torch.tensor(mask), -torch.inf), dim=-1).numpy()
    np.testing.assert_allclose(weights.data, ref, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(out.data, weights.data @ v, rtol=RTOL, atol=ATOL)
    assert not weights.requires_grad


def test_dropout_zeroes_weights_rescales_the_rest_and_is_seeded():
    q, k, v = _inputs((4, 16, 8), (4, 16, 8), (4, 16, 8))
    args = [Tensor(a) for a in (q, k, v)]
    _, clean = scaled_dot_product_attention(*args, return_weights=True)
    manual_seed(11)
    out, dropped = scaled_dot_product_attention(*args, dropout_p=0.25, return_weights=True)
    manual_seed(11)
    again = scaled_dot_product_attention(*args, dropout_p=0.25)
    kept = dropped.data != 0
    assert 0.65 < kept.mean() < 0.85
    np.testing.assert_allclose(dropped.data[kept], clean.data[kept] / 0.75, rtol=1e-6)
    np.testing.assert_allclose(out.data, dropped.data @ v, rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(out.data, again.data)


def test_sdpa_keeps_float32_with_a_float64_mask():
    q, k, v = _inputs((2, 3, 4), (2, 3, 4), (2, 3, 4))
    out = scaled_dot_product_attention(
        Tensor(q), Tensor(k), Tensor(v), attn_mask=np.zeros((3, 3), np.float64)
    )
    assert out.dtype == np.float32


def test_sdpa_errors_name_the_problem():
    q, k, v = (Tensor(a) for a in _inputs((2, 3, 4), (2, 5, 4), (2, 5, 6)))
    with pytest.raises(TypeError, match="bool .* or float"):
        scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), np.int64))
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(2, 3, 5\)"):
        scaled_dot_product_attention(q, k, v, attn_mask=np.ones((4, 5), bool))
    with pytest.raises(ValueError, match=r"\(3, 2, 3, 5\).*\(2, 3, 5\)"):
        scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 2, 3, 5), bool))
    with pytest.raises(ValueError, match="not both"):
        scaled_dot_product_attention(q, k, v, attn_mask=np.ones((3, 5), bool), is_causal=True)
    with pytest.raises(ValueError, match=r"feature size.*\(2, 3, 4\).*\(2, 5, 3\)"):
        scaled_dot_product_attention(q, Tensor(np.zeros((2, 5, 3))), v)
    with pytest.raises(ValueError, match="same length"):
        scaled_dot_product_attention(q, k, Tensor(np.zeros((2, 4, 6))))
    with pytest.raises(ValueError, match="do not broadcast"):
        scaled_dot_product_attention(q, Tensor(np.zeros((3, 5, 4))), Tensor(np.zeros((3, 5, 6))))
    with pytest.raises(ValueError, match=r"dropout_p .*\[0, 1\).*1.0"):
        scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    with pytest.raises(TypeError, match="share a dtype"):
        scaled_dot_product_attention(q, k, Tensor(np.zeros((2, 5, 6)), dtype=np.float64))
    with pytest.raises(TypeError, match="floating point"):
        scaled_dot_product_attention(q, k, Tensor(np.zeros((2, 5, 6), np.int64)))


@pytest.mark.parametrize("block_rows", [1, 2])
@pytest.mark.parametrize("lengths", [(7, 7), (5, 9), (9, 5)], ids=["square", "wide", "tall"])
def test_causal_query_blocks_give_the_same_result_as_one_block(monkeypatch, block_rows, lengths):
    q_len, k_len = lengths
    q, k, v = _inputs((2, 2, q_len, 4), (2, 2, k_len, 4), (2, 2, k_len, 3))
    grad_out = np.random.default_rng(6).standard_normal((2, 2, q_len, 3)).astype(np.float32)

    def run():
        tensors = [Tensor(a, requires_grad=True) for a in (q, k, v)]
        out, weights = scaled_dot_product_attention(*tensors, is_causal=True, return_weights=True)
        out.backward(grad_out)
        return [out.data, weights.data] + [t.grad for t in tensors]

    monkeypatch.setattr(scaled_dot_product, "_CAUSAL_BLOCK_ROWS", 10**6)  # a single block
    single = run()
    monkeypatch.setattr(scaled_dot_product, "_CAUSAL_BLOCK_ROWS", block_rows)
    assert len(scaled_dot_product._query_blocks(q_len, k_len, 0)) > 1
    # Only summation order differs; atol covers float32 rounding of gradients that are exactly 0
    # in exact arithmetic (a query seeing one key has a constant softmax).
    for blocked, reference in zip(run(), single, strict=True):
        np.testing.assert_allclose(blocked, reference, rtol=1e-5, atol=1e-6)
