"""attention_maps against attention recomputed here from each layer's q/k weights.

The test walks the residual stream with the model's blocks, then recomputes every head's weights
in float64 with its own code: q/k projections from the weight matrices, the RoPE rotation written
out (interleaved pairs, theta_k = 10000^(-2k/hd)), ALiBi slopes 2^(-8h/H), and the causal mask.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.autograd import no_grad
from tinytorch.inspection import attention_maps

from .conftest import POSITION_SCHEMES

IDS = np.array([5, 1, 9, 9, 3, 12, 0, 7, 2, 11, 4], dtype=np.int64)


def _rotate(x: np.ndarray) -> np.ndarray:
    """RoPE by hand: x (H, T, hd), pair (2k, 2k+1) at position t rotated by t * theta_k."""
    hd = x.shape[-1]
    theta = 10000.0 ** (-np.arange(0, hd, 2) / hd)
    angle = np.arange(x.shape[1])[:, None] * theta
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * np.cos(angle) - odd * np.sin(angle)
    out[..., 1::2] = even * np.sin(angle) + odd * np.cos(angle)
    return out


def _expected_maps(model, ids: np.ndarray) -> np.ndarray:
    scheme = model.config.pos_encoding
    maps = []
    with no_grad():
        x = model.embedding(ids[None])
        for block in model.blocks:
            attn = block.attn
            h = block.ln_1(x).data[0].astype(np.float64)
            heads, hd, length = attn.num_heads, attn.head_dim, len(ids)

            def project(linear, h=h, heads=heads, hd=hd, length=length):
                out = h @ linear.weight.data.T.astype(np.float64) + linear.bias.data
                return out.reshape(length, heads, hd).transpose(1, 0, 2)

            q, k = project(attn.q_proj), project(attn.k_proj)
            if scheme == "rope":
                q, k = _rotate(q), _rotate(k)
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
            if scheme == "alibi":
                slopes = 2.0 ** (-8.0 * np.arange(1, heads + 1) / heads)
                distance = np.abs(np.arange(length)[None, :] - np.arange(length)[:, None])
                scores = scores - slopes[:, None, None] * distance
            future = np.triu(np.ones((length, length), bool), 1)
            scores[:, future] = -np.inf
            weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
            maps.append(weights / weights.sum(axis=-1, keepdims=True))
            x = block(x)
    return np.stack(maps)


@pytest.mark.parametrize("pos_encoding", POSITION_SCHEMES)
def test_maps_equal_attention_recomputed_from_the_q_and_k_projections(
    make_gpt, pos_encoding
) -> None:
    model = make_gpt(13, pos_encoding)
    for block in model.blocks:  # biases are zero at init: make them count
        for linear in (block.attn.q_proj, block.attn.k_proj):
            linear.bias.data[...] = np.linspace(-0.5, 0.5, 16, dtype=np.float32)
            linear.weight.data *= 20.0  # sharper attention than at init
    maps = attention_maps(model, IDS)
    assert maps.shape == (2, 2, len(IDS), len(IDS)) and maps.dtype == np.float32
    np.testing.assert_allclose(maps, _expected_maps(model, IDS), atol=1e-6, rtol=0)
    np.testing.assert_allclose(maps.sum(axis=-1), 1.0, atol=1e-6)
    future = np.triu(np.ones((len(IDS), len(IDS)), bool), 1)
    assert (maps[..., future] == 0.0).all()
    uniform = np.tril(np.ones((len(IDS), len(IDS)))) / np.arange(1, len(IDS) + 1)[:, None]
    assert np.abs(maps - uniform).max() > 0.3  # far from uniform: the comparison means something


def test_maps_run_in_eval_mode_and_restore_the_mode(make_gpt) -> None:
    model = make_gpt(13, "learned", dropout=0.5)
    model.train()
    first = attention_maps(model, IDS)
    assert model.training and all(m.training for m in model.modules())
    np.testing.assert_array_equal(first, attention_maps(model, IDS))  # no dropout drawn
    model.eval()
    attention_maps(model, IDS)
    assert not any(m.training for m in model.modules())


def test_maps_take_one_non_empty_prompt(make_gpt) -> None:
    model = make_gpt(13, "rope")
    with pytest.raises(
        ValueError, match=r"one non-empty prompt of shape \(T,\), got shape \(1, 3\)"
    ):
        attention_maps(model, [[1, 2, 3]])
    with pytest.raises(ValueError, match=r"got shape \(0,\)"):
        attention_maps(model, np.zeros(0, np.int64))
    with pytest.raises(IndexError, match="out of range"):
        attention_maps(model, [1, 13])
