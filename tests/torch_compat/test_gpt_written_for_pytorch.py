"""benchmarks/torch_style_gpt.py, unchanged, on PyTorch and on tinytorch: same losses, gradients,
steps and tokens from the same state_dict."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinytorch

SETTINGS = dict(vocab=40, context=16, layers=2, heads=4, width=32)


def build(program, **overrides):
    return program.TinyGPT(program.Settings(**{**SETTINGS, **overrides}))


def twins(gpt_programs, **overrides):
    """The model on PyTorch and on tinytorch, with PyTorch's weights in both."""
    on_torch, on_tinytorch = gpt_programs
    torch.manual_seed(0)
    tinytorch.manual_seed(0)
    theirs, ours = build(on_torch, **overrides), build(on_tinytorch, **overrides)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return theirs, ours


def batch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, SETTINGS["vocab"], (4, SETTINGS["context"]))
    y = rng.integers(0, SETTINGS["vocab"], (4, SETTINGS["context"]))
    y[0, :5] = -1  # ignored positions
    return x, y


def losses(theirs, ours, x, y):
    return (
        theirs(torch.from_numpy(x), torch.from_numpy(y))[1],
        ours(tinytorch.tensor(x), tinytorch.tensor(y))[1],
    )


def test_the_program_builds_the_same_modules_and_state_dict(gpt_programs):
    theirs, ours = twins(gpt_programs)
    assert isinstance(ours.transformer, tinytorch.nn.ModuleDict)
    expected = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == expected
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert ours.lm_head.weight is ours.transformer.wte.weight  # tied by assignment
    assert ours.num_params() == theirs.num_params()


def test_the_init_follows_the_program(gpt_programs):
    """`apply(_init_weights)` + `nn.init` by name: zero biases, residual projections smaller."""
    tinytorch.manual_seed(1)
    model = build(gpt_programs[1], width=64, layers=4)
    assert not model.transformer.h[0].attn.qkv.bias.data.any()
    residual = model.transformer.h[1].ff.c_proj.weight.data.std()
    other = model.transformer.h[1].ff.fc.weight.data.std()
    assert residual == pytest.approx(0.02 / np.sqrt(8), rel=0.1)
    assert other == pytest.approx(0.02, rel=0.1)


@pytest.mark.parametrize("bias", [True, False])
def test_loss_and_every_gradient_match_pytorch(gpt_programs, bias):
    theirs, ours = twins(gpt_programs, bias=bias)
    theirs_loss, ours_loss = losses(theirs, ours, *batch())
    assert abs(theirs_loss.item() - ours_loss.item()) <= 1e-5
    theirs_loss.backward()
    ours_loss.backward()
    theirs_grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(
            p.grad, theirs_grads[name].grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name
        )


def test_adamw_training_follows_pytorchs_trajectory(gpt_programs):
    theirs, ours = twins(gpt_programs)
    theirs_opt = theirs.optimizer(0.1, 3e-3, (0.9, 0.95), "cpu")
    ours_opt = ours.optimizer(0.1, 3e-3, (0.9, 0.95), "cpu")
    on_torch, on_tinytorch = gpt_programs
    trajectory = []
    x, y = batch()
    for _ in range(15):
        theirs_loss = on_torch.train_step(
            theirs, theirs_opt, torch.from_numpy(x), torch.from_numpy(y)
        )
        ours_loss = on_tinytorch.train_step(
            ours, ours_opt, tinytorch.tensor(x), tinytorch.tensor(y)
        )
        trajectory.append((theirs_loss, ours_loss))
    assert trajectory[-1][1] < trajectory[0][1] - 0.3  # it learns the batch
    assert max(abs(a - b) for a, b in trajectory) < 1e-4
    theirs_params = dict(theirs.named_parameters())
    width = SETTINGS["width"]
    for name, p in ours.named_parameters():
        ours_values, theirs_values = p.data, theirs_params[name].detach().numpy()
        if name.endswith("qkv.bias"):
            # The key bias adds the same score to every key of a query: softmax ignores it, its
            # exact gradient is 0, and Adam turns float noise in it into steps of +-lr.
            keep = np.r_[0:width, 2 * width : 3 * width]
            ours_values, theirs_values = ours_values[keep], theirs_values[keep]
        np.testing.assert_allclose(ours_values, theirs_values, atol=1e-5, err_msg=name)


def test_the_fused_adamw_pytorch_code_asks_for_on_cuda_is_accepted_and_the_same(gpt_programs):
    _, ours = twins(gpt_programs)
    _, copy = twins(gpt_programs)
    plain = ours.optimizer(0.1, 1e-3, (0.9, 0.95), "cpu")
    fused = copy.optimizer(0.1, 1e-3, (0.9, 0.95), "cuda")  # passes fused=True
    x, y = (tinytorch.tensor(a) for a in batch())
    for model, optimizer in ((ours, plain), (copy, fused)):
        gpt_programs[1].train_step(model, optimizer, x, y)
    for (name, a), (_, b) in zip(ours.named_parameters(), copy.named_parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data, err_msg=name)


def test_greedy_generation_matches_token_for_token(gpt_programs):
    """top_k=1 leaves one token to sample, so both samplers must agree; 30 new tokens after a
    5-token prompt also crop the window to the context of 16."""
    theirs, ours = twins(gpt_programs)
    for model in (theirs, ours):
        model.eval()
    prompt = np.array([[3, 1, 4, 1, 5], [9, 2, 6, 5, 3]])
    theirs_ids = theirs.sample(torch.from_numpy(prompt), 30, temperature=0.7, top_k=1)
    ours_ids = ours.sample(tinytorch.tensor(prompt), 30, temperature=0.7, top_k=1)
    assert ours_ids.dtype == tinytorch.long and ours_ids.shape == (2, 35)
    np.testing.assert_array_equal(ours_ids.numpy(), theirs_ids.numpy())


def test_sampled_tokens_follow_the_same_distribution(gpt_programs):
    """The random streams differ (NumPy's PCG64 vs PyTorch's Mersenne Twister), so sampled
    tokens are compared statistically: 4000 draws of the next token with temperature and top_k
    must fit the distribution PyTorch's model computes (chi-square), as PyTorch's draws do."""
    theirs, ours = twins(gpt_programs)
    prompt = np.tile([[7, 3, 9]], (4000, 1))
    with torch.no_grad():
        logits = theirs(torch.from_numpy(prompt[:1]))[0][0, -1] / 0.2
    top = torch.topk(logits, 5)
    expected = np.zeros(SETTINGS["vocab"])
    expected[top.indices.numpy()] = torch.softmax(top.values, -1).numpy() * len(prompt)
    generator = tinytorch.Generator().manual_seed(0)
    ours_draws = ours.sample(tinytorch.tensor(prompt), 1, 0.2, 5, generator)[:, -1].numpy()
    theirs_draws = theirs.sample(torch.from_numpy(prompt), 1, 0.2, 5)[:, -1].numpy()
    kept = expected > 0
    for draws in (ours_draws, theirs_draws):
        counts = np.bincount(draws, minlength=SETTINGS["vocab"])
        assert counts[~kept].sum() == 0  # only the top 5 are ever drawn
        chi_square = ((counts[kept] - expected[kept]) ** 2 / expected[kept]).sum()
        assert chi_square < 25  # 4 degrees of freedom: p < 1e-4 for a correct sampler
    again = ours.sample(tinytorch.tensor(prompt), 1, 0.2, 5, tinytorch.Generator().manual_seed(0))
    np.testing.assert_array_equal(again[:, -1].numpy(), ours_draws)


def test_shrinking_the_context_by_model_surgery(gpt_programs):
    theirs, ours = twins(gpt_programs)
    theirs.shrink_context(8)
    ours.shrink_context(8)
    assert isinstance(ours.transformer.wpe.weight, tinytorch.nn.Parameter)
    assert ours.transformer.wpe.weight.shape == (8, SETTINGS["width"])
    x, y = (np.ascontiguousarray(a[:, :8]) for a in batch())
    theirs_loss, ours_loss = losses(theirs, ours, x, y)
    assert abs(theirs_loss.item() - ours_loss.item()) <= 1e-5
    with pytest.raises(AssertionError, match="exceeds the context"):
        ours(tinytorch.tensor(batch()[0]))


def test_dropout_trains_and_eval_mode_is_deterministic(gpt_programs):
    tinytorch.manual_seed(0)
    model = build(gpt_programs[1], dropout=0.2)
    x, y = (tinytorch.tensor(a) for a in batch())
    first, second = model(x, y)[1].item(), model(x, y)[1].item()
    assert first != second  # different dropout masks
    model.eval()
    assert model(x, y)[1].item() == model(x, y)[1].item()
