import json
import math

import numpy as np
import pytest
import torch

from tinytorch.core.attention import KVCache
from tinytorch.core.autograd import no_grad
from tinytorch.core.errors import IndexOutOfRangeError
from tinytorch.core.optimizers import Adam
from tinytorch.core.random import manual_seed
from tinytorch.models.gpt_config import GPTConfig
from tinytorch.models.transformer import GPT, TransformerBlock

RTOL, ATOL = 1e-4, 1e-5
ALL_ENCODINGS = ["learned", "sinusoidal", "rope", "alibi", None]
V, D, L, H, T = 40, 32, 2, 4, 12


def _ids(batch, length, seed=0, vocab=V):
    return np.random.default_rng(seed).integers(0, vocab, size=(batch, length))


@pytest.mark.parametrize("tie_weights", [True, False])
def test_gpt_matches_pytorch_logits_loss_and_every_gradient(torch_gpt, tie_weights):
    manual_seed(0)
    model = GPT(V, D, L, H, T, tie_weights=tie_weights)
    ref = torch_gpt(V, D, L, H, T, tie_weights)
    # Our state dict loads into the PyTorch twin by name, with strict=True.
    ref.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()}, strict=True)
    ids, targets = _ids(3, 10), _ids(3, 10, seed=1)

    logits, loss = model(ids, targets)
    loss.backward()
    ref_logits = ref(torch.tensor(ids))
    ref_loss = torch.nn.functional.cross_entropy(
        ref_logits.reshape(-1, V), torch.tensor(targets).reshape(-1)
    )
    ref_loss.backward()

    np.testing.assert_allclose(logits.data, ref_logits.detach().numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(loss.item(), ref_loss.item(), rtol=RTOL)
    ours = dict(model.named_parameters())
    theirs = dict(ref.named_parameters())
    assert ours.keys() == theirs.keys()
    for name, param in ours.items():
        np.testing.assert_allclose(
            param.grad, theirs[name].grad.numpy(), rtol=RTOL, atol=ATOL, err_msg=name
        )


def test_gpt_gradient_matches_a_float64_directional_derivative():
    manual_seed(1)
    model = GPT(13, 8, 2, 2, 6, pos_encoding="rope").to(np.float64)
    ids, targets = _ids(2, 5, vocab=13), _ids(2, 5, seed=1, vocab=13)
    params = dict(model.named_parameters())
    direction = {n: np.random.default_rng(2).standard_normal(p.shape) for n, p in params.items()}

    def loss_at(shift):
        saved = {n: p.data.copy() for n, p in params.items()}
        for n, p in params.items():
            p.data += shift * direction[n]
        value = model(ids, targets)[1]
        for n, p in params.items():
            p.data[...] = saved[n]
        return value

    loss_at(0.0).backward()
    analytic = sum(float((p.grad * direction[n]).sum()) for n, p in params.items())
    eps = 1e-6
    numeric = (loss_at(eps).item() - loss_at(-eps).item()) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6)


def test_gpt_initialisation_follows_gpt2():
    manual_seed(2)
    layers = 4
    model = GPT(500, 128, layers, 4, 64)
    assert model.lm_head.weight is model.embedding.token_embedding.weight
    assert len(list(model.parameters())) == len(model.state_dict()) - 1  # tied: listed once
    residual_std = 0.02 / math.sqrt(2 * layers)
    for name, p in model.named_parameters():
        if name.endswith("bias") and "ln_" not in name:
            assert np.all(p.data == 0), name
        elif name.endswith(("out_proj.weight", "mlp.2.weight")):
            assert abs(p.data.std() - residual_std) < 0.1 * residual_std, name
        elif "ln_" not in name:
            assert abs(p.data.std() - 0.02) < 0.1 * 0.02, name
        assert p.dtype == np.float32


def test_config_rebuilds_the_same_architecture():
    manual_seed(3)
    model = GPT(V, D, L, H, T, pos_encoding="alibi", dropout=0.1, tie_weights=False)
    assert model.config == GPTConfig(
        vocab_size=V,
        embed_dim=D,
        num_layers=L,
        num_heads=H,
        max_seq_len=T,
        pos_encoding="alibi",
        dropout=0.1,
        tie_weights=False,
    )
    assert GPTConfig.from_dict(json.loads(json.dumps(model.config.to_dict()))) == model.config
    twin = GPT(model.config)
    twin.load_state_dict(model.state_dict())
    model.eval()
    twin.eval()
    ids = _ids(2, 6)
    np.testing.assert_array_equal(twin(ids).data, model(ids).data)


@pytest.mark.parametrize("pos_encoding", ALL_ENCODINGS)
def test_changing_a_token_never_changes_earlier_logits(pos_encoding):
    manual_seed(4)
    model = GPT(V, D, L, H, T, pos_encoding=pos_encoding)
    ids = _ids(2, T)
    base = model(ids).data
    for t in (0, 5, T - 1):
        changed = ids.copy()
        changed[:, t] = (changed[:, t] + 1) % V
        logits = model(changed).data
        np.testing.assert_allclose(logits[:, :t], base[:, :t], rtol=0, atol=1e-6)
        assert np.abs(logits[:, t] - base[:, t]).max() > 1e-4


@pytest.mark.parametrize("pos_encoding", ALL_ENCODINGS)
def test_incremental_forward_with_kv_caches_equals_the_full_forward(pos_encoding):
    manual_seed(5)
    model = GPT(V, D, L, H, T, pos_encoding=pos_encoding)
    ids = _ids(2, 9)
    with no_grad():
        full = model(ids).data
        caches = model.new_kv_caches()
        parts = [model(ids[:, a:b], kv_caches=caches).data for a, b in ((0, 4), (4, 5), (5, 9))]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), full, rtol=RTOL, atol=ATOL)
    assert all(c.length == 9 for c in caches)


def test_dropout_is_active_in_train_mode_only():
    manual_seed(6)
    model = GPT(V, D, L, H, T, dropout=0.3)
    ids = _ids(2, 8)
    first, second = model(ids).data, model(ids).data
    assert not np.allclose(first, second)
    model.eval()
    np.testing.assert_array_equal(model(ids).data, model(ids).data)


def test_tiny_gpt_overfits_a_repeated_sequence():
    manual_seed(7)
    model = GPT(vocab_size=12, embed_dim=32, num_layers=2, num_heads=4, max_seq_len=16)
    pattern = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2])
    ids, targets = pattern[None, :-1].repeat(4, 0), pattern[None, 1:].repeat(4, 0)
    optimizer = Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        _, loss = model(ids, targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[0] > 2.0  # starts near log(12) = 2.48
    assert losses[-1] < 0.1
    model.eval()
    # Greedy generation from the first token reproduces the memorised sequence.
    np.testing.assert_array_equal(model.generate(pattern[:1], 15, temperature=0), pattern[:16])


def test_gpt_errors_surface_at_the_boundary():
    with pytest.raises(ValueError, match="pos_encoding: must be one of .*, got 'relative'"):
        GPT(V, D, L, H, T, pos_encoding="relative")
    with pytest.raises(ValueError, match="num_heads: must divide embed_dim 30, got 4"):
        GPT(V, 30, L, H, T)
    with pytest.raises(ValueError, match="num_layers: must be an integer >= 1, got 0"):
        GPT(V, D, 0, H, T)
    with pytest.raises(ValueError, match="pos_encoding: rope needs an even head_dim, got 3"):
        GPT(V, 6, L, 2, T, pos_encoding="rope")
    with pytest.raises(ValueError, match="vocab_size must be a positive integer, got None"):
        GPT(GPTConfig())
    model = GPT(V, D, L, H, T)
    with pytest.raises(IndexOutOfRangeError, match="out of range"):
        model(np.array([[1, 2, V]]))
    with pytest.raises(TypeError, match="integers"):
        model(np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match=f"exceeds maximum sequence length {T}"):
        model(_ids(1, T + 1))
    with pytest.raises(ValueError, match="batch, seq_len"):
        model(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match=f"one KVCache per block \\({L}\\), got 1"):
        model(_ids(1, 3), kv_caches=[KVCache()])


def test_transformer_block_is_causal_and_keeps_the_shape():
    manual_seed(8)
    block = TransformerBlock(16, 2, mlp_hidden_dim=32)
    assert block.mlp[0].weight.shape == (32, 16)
    x = np.random.default_rng(0).standard_normal((2, 5, 16)).astype(np.float32)
    out = block(x).data
    changed = x.copy()
    changed[:, 3] += 1.0
    assert out.shape == x.shape and out.dtype == np.float32
    np.testing.assert_allclose(block(changed).data[:, :3], out[:, :3], rtol=0, atol=1e-6)
