import numpy as np
import pytest
import torch

from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.autograd import no_grad
from tinytorch.core.random import manual_seed
from tinytorch.core.tensor import Tensor
from tinytorch.text.positions import RotaryEmbedding

RTOL, ATOL = 1e-4, 1e-5
E, H = 16, 4


def _pair(embed_dim=E, num_heads=H, kdim=None, vdim=None, bias=True, batch_first=True):
    """Our MHA and torch's, with torch's weights copied into ours (q/k/v unpacked)."""
    torch.manual_seed(0)
    ref = torch.nn.MultiheadAttention(
        embed_dim, num_heads, bias=bias, kdim=kdim, vdim=vdim, batch_first=batch_first
    )
    with torch.no_grad():  # torch initialises biases to 0; make them matter
        for name, p in ref.named_parameters():
            if "bias" in name:
                p.normal_()
    ours = MultiHeadAttention(
        embed_dim, num_heads, bias=bias, kdim=kdim, vdim=vdim, batch_first=batch_first
    )
    for name, array in _torch_weights_by_our_names(ref, lambda t: t.detach().numpy()).items():
        target = dict(ours.named_parameters())[name]
        assert target.shape == array.shape
        target.data[...] = array
    return ours, ref


def _torch_weights_by_our_names(ref, get):
    """torch packs q/k/v into in_proj_weight (3E, E) unless kdim/vdim differ; split it."""
    e = ref.embed_dim
    if ref.in_proj_weight is not None:
        w = get(ref.in_proj_weight)
        weights = {
            "q_proj.weight": w[:e],
            "k_proj.weight": w[e : 2 * e],
            "v_proj.weight": w[2 * e :],
        }
    else:
        weights = {f"{n}_proj.weight": get(getattr(ref, f"{n}_proj_weight")) for n in "qkv"}
    if ref.in_proj_bias is not None:
        b = get(ref.in_proj_bias)
        weights |= {"q_proj.bias": b[:e], "k_proj.bias": b[e : 2 * e], "v_proj.bias": b[2 * e :]}
        weights["out_proj.bias"] = get(ref.out_proj.bias)
    weights["out_proj.weight"] = get(ref.out_proj.weight)
    return weights


def _compare(ours, ref, inputs, ours_kw, torch_kw, self_attention=True):
    """Forward outputs, input gradients and every weight gradient must match torch's."""
    rng = np.random.default_rng(9)
    ours_in = [Tensor(a, requires_grad=True) for a in inputs]
    torch_in = [torch.tensor(a, requires_grad=True) for a in inputs]
    if self_attention:
        out = ours(ours_in[0], **ours_kw)
        ref_out, _ = ref(torch_in[0], torch_in[0], torch_in[0], need_weights=False, **torch_kw)
    else:
        out = ours(*ours_in, **ours_kw)
        ref_out, _ = ref(*torch_in, need_weights=False, **torch_kw)
    grad_out = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(grad_out)
    ref_out.backward(torch.tensor(grad_out))

    np.testing.assert_allclose(out.data, ref_out.detach().numpy(), rtol=RTOL, atol=ATOL)
    for t, r in zip(ours_in, torch_in, strict=True):
        np.testing.assert_allclose(t.grad, r.grad.numpy(), rtol=RTOL, atol=ATOL)
    ref_grads = _torch_weights_by_our_names(ref, lambda t: t.grad.numpy())
    params = dict(ours.named_parameters())
    assert set(ref_grads) == set(params)
    for name, grad in ref_grads.items():
        np.testing.assert_allclose(params[name].grad, grad, rtol=RTOL, atol=ATOL, err_msg=name)


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_self_attention_matches_torch():
    ours, ref = _pair()
    _compare(ours, ref, [_x(3, 7, E)], {}, {})


def test_causal_self_attention_matches_torch():
    ours, ref = _pair()
    torch_causal = torch.triu(torch.ones(7, 7, dtype=torch.bool), 1)  # torch: True = ignore
    _compare(ours, ref, [_x(3, 7, E)], {"is_causal": True}, {"attn_mask": torch_causal})


def test_key_padding_mask_is_true_for_real_tokens_the_opposite_of_torch():
    ours, ref = _pair()
    lengths = np.array([7, 4, 1])
    real = np.arange(7) < lengths[:, None]  # our convention: True = real token
    _compare(
        ours,
        ref,
        [_x(3, 7, E)],
        {"key_padding_mask": real},
        {"key_padding_mask": torch.tensor(~real)},
    )


def test_key_padding_combined_with_causal_matches_torch():
    ours, ref = _pair()
    real = np.arange(6) < np.array([6, 3])[:, None]
    torch_causal = torch.triu(torch.ones(6, 6, dtype=torch.bool), 1)
    _compare(
        ours,
        ref,
        [_x(2, 6, E)],
        {"key_padding_mask": real, "is_causal": True},
        {"key_padding_mask": torch.tensor(~real), "attn_mask": torch_causal},
    )


def test_bool_and_float_attn_masks_match_torch():
    ours, ref = _pair()
    allowed = np.random.default_rng(1).random((5, 5)) < 0.6
    allowed[:, 0] = True
    _compare(
        ours, ref, [_x(2, 5, E)], {"attn_mask": allowed}, {"attn_mask": torch.tensor(~allowed)}
    )
    ours, ref = _pair()
    additive = _x(5, 5, seed=2)
    _compare(
        ours, ref, [_x(2, 5, E)], {"attn_mask": additive}, {"attn_mask": torch.tensor(additive)}
    )


def test_cross_attention_with_different_lengths_and_dims_matches_torch():
    ours, ref = _pair(kdim=10, vdim=6)
    query, key, value = _x(2, 3, E), _x(2, 8, 10, seed=1), _x(2, 8, 6, seed=2)
    real = np.arange(8) < np.array([8, 5])[:, None]
    _compare(
        ours,
        ref,
        [query, key, value],
        {"key_padding_mask": real},
        {"key_padding_mask": torch.tensor(~real)},
        self_attention=False,
    )


def test_cross_attention_without_bias_matches_torch():
    ours, ref = _pair(bias=False)
    assert ours.q_proj.bias is None
    _compare(
        ours,
        ref,
        [_x(2, 4, E), _x(2, 9, E, seed=1), _x(2, 9, E, seed=2)],
        {},
        {},
        self_attention=False,
    )


def test_sequence_first_layout_matches_torch():
    ours, ref = _pair(batch_first=False)
    torch_causal = torch.triu(torch.ones(5, 5, dtype=torch.bool), 1)
    _compare(ours, ref, [_x(5, 2, E)], {"is_causal": True}, {"attn_mask": torch_causal})


def test_per_head_weights_match_torch():
    ours, ref = _pair()
    x = _x(2, 5, E)
    real = np.arange(5) < np.array([5, 3])[:, None]
    out, weights = ours(x, key_padding_mask=real, need_weights=True)
    ref_out, ref_weights = ref(
        *(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(~real), average_attn_weights=False
    )
    assert weights.shape == (2, H, 5, 5)
    np.testing.assert_allclose(weights.data, ref_weights.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(out.data, ref_out.detach().numpy(), rtol=RTOL, atol=ATOL)


def test_mha_gradients_match_central_differences_in_float64():
    manual_seed(3)
    mha = MultiHeadAttention(8, 2, positions=RotaryEmbedding(4)).to(np.float64)
    x = np.random.default_rng(4).standard_normal((2, 5, 8))
    real = np.arange(5) < np.array([5, 3])[:, None]
    direction = {
        n: np.random.default_rng(5).standard_normal(p.shape) for n, p in mha.named_parameters()
    }

    def loss(shift=0.0):
        params = dict(mha.named_parameters())
        saved = {n: p.data.copy() for n, p in params.items()}
        for n, p in params.items():
            p.data += shift * direction[n]
        out = mha(Tensor(x, dtype=np.float64), key_padding_mask=real, is_causal=True)
        total = (out * out).sum()
        for n, p in params.items():
            p.data[...] = saved[n]
        return total

    mha.zero_grad()
    loss().backward()
    analytic = sum(float((p.grad * direction[n]).sum()) for n, p in mha.named_parameters())
    eps = 1e-6
    numeric = (loss(eps).item() - loss(-eps).item()) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6)


def test_dropout_only_in_training_mode():
    manual_seed(0)
    mha = MultiHeadAttention(E, H, dropout=0.5)
    x = Tensor(_x(2, 6, E))
    mha.eval()
    with no_grad():
        first, second = mha(x), mha(x)
    np.testing.assert_array_equal(first.data, second.data)
    mha.train()
    with no_grad():
        dropped = mha(x)
    assert not np.allclose(dropped.data, first.data)


def test_mha_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"embed_dim \(10\).*num_heads \(4\)"):
        MultiHeadAttention(10, 4)
    with pytest.raises(TypeError, match="positions must be an AttentionPositions"):
        MultiHeadAttention(8, 2, positions="rope")
    mha = MultiHeadAttention(E, H)
    with pytest.raises(ValueError, match=r"\(batch, seq, 16\).*\(2, 5, 12\)"):
        mha(_x(2, 5, 12))
    with pytest.raises(ValueError, match="share the batch size"):
        mha(_x(2, 5, E), _x(3, 5, E))
    with pytest.raises(TypeError, match="key_padding_mask must be bool"):
        mha(_x(2, 5, E), key_padding_mask=np.ones((2, 5), np.int64))
    with pytest.raises(ValueError, match=r"\(2, 5\).*got \(2, 4\)"):
        mha(_x(2, 5, E), key_padding_mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 5\)"):
        mha(_x(2, 5, E), attn_mask=np.ones((4, 5), bool))
    with pytest.raises(TypeError, match="bool .* or float"):
        mha(_x(2, 5, E), attn_mask=np.ones((5, 5), np.int32))
    with pytest.raises(ValueError, match=r"3-D attn_mask must have shape .* \(8, 5, 5\)"):
        mha(_x(2, 5, E), attn_mask=np.ones((2, 5, 5), bool))


def test_a_3d_attn_mask_is_pytorchs_batch_times_heads_layout_whatever_the_batch_size():
    """(B * H, Lq, Lk), batch-major as in torch.nn.MultiheadAttention; a (B, Lq, Lk) mask is
    refused even when B == H, where broadcasting would silently read it per head."""
    manual_seed(0)
    mha = MultiHeadAttention(E, H)
    rng = np.random.default_rng(0)
    for batch in (2, H):
        mask = rng.random((batch * H, 5, 5)) < 0.6
        mask[..., 0] = True  # every query may attend to something
        x = Tensor(_x(batch, 5, E))
        with no_grad():
            three_d = mha(x, attn_mask=mask).data
            four_d = mha(x, attn_mask=mask.reshape(batch, H, 5, 5)).data
            per_head = [
                mha(x[b : b + 1], attn_mask=mask.reshape(batch, H, 5, 5)[b : b + 1]).data
                for b in range(batch)
            ]
        np.testing.assert_array_equal(three_d, four_d)
        np.testing.assert_allclose(three_d, np.concatenate(per_head), rtol=1e-6, atol=1e-6)
        with pytest.raises(ValueError, match="3-D attn_mask must have shape"):
            mha(x, attn_mask=mask[:batch])
