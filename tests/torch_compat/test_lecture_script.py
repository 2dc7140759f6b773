"""char_lecture.py, unchanged: it trains end to end on tinytorch, and from the same weights and
batches it computes PyTorch's losses, gradients and AdamW steps."""

from __future__ import annotations

import numpy as np
import torch

import tinytorch

TEXT = (
    "the cat sat on the mat. the dog sat on the log. a cat and a dog met on the mat and sat. "
) * 40


def test_the_script_trains_a_character_model_end_to_end(lecture_programs):
    _, on_tinytorch = lecture_programs
    vocab, model, before, after, sample = on_tinytorch.main(TEXT, steps=250)
    uniform = np.log(len(vocab.chars))
    assert abs(before["train"] - uniform) < 0.3  # an untrained model is close to uniform
    assert after["train"] < before["train"] - 1.0 and after["val"] < before["val"] - 1.0
    assert isinstance(model.heads[0].tril, tinytorch.Tensor)  # the registered buffer
    assert len(sample) == 41 and set(sample) <= set(vocab.chars)


def test_a_seed_repeats_the_whole_run(lecture_programs):
    _, on_tinytorch = lecture_programs
    first = on_tinytorch.main(TEXT, steps=20)
    second = on_tinytorch.main(TEXT, steps=20)
    assert first[2:] == second[2:]  # losses before and after, and the sample


def test_batches_are_windows_of_the_text_shifted_by_one(lecture_programs):
    _, on_tinytorch = lecture_programs
    data = tinytorch.tensor(list(range(100)), dtype=tinytorch.long)
    x, y = on_tinytorch.get_batch(data, 6, 8)
    assert x.dtype == tinytorch.long and x.shape == y.shape == (6, 8)
    np.testing.assert_array_equal(y.numpy(), x.numpy() + 1)
    np.testing.assert_array_equal(np.diff(x.numpy(), axis=1), 1)


def test_same_weights_and_batches_give_pytorchs_losses_and_gradients(lecture_programs):
    on_torch, on_tinytorch = lecture_programs
    torch.manual_seed(0)
    theirs = on_torch.CharModel(20)
    ours = on_tinytorch.CharModel(20)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    theirs_opt = torch.optim.AdamW(theirs.parameters(), lr=1e-2)
    ours_opt = tinytorch.optim.AdamW(ours.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    for step in range(10):
        x, y = rng.integers(0, 20, (2, 16, 8))
        theirs_loss = theirs(torch.from_numpy(x), torch.from_numpy(y))[1]
        ours_loss = ours(tinytorch.tensor(x), tinytorch.tensor(y))[1]
        assert abs(theirs_loss.item() - ours_loss.item()) < 1e-5
        for optimizer, loss in ((theirs_opt, theirs_loss), (ours_opt, ours_loss)):
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        if step == 0:
            theirs_grads = dict(theirs.named_parameters())
            for name, p in ours.named_parameters():
                np.testing.assert_allclose(
                    p.grad, theirs_grads[name].grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name
                )
        theirs_opt.step()
        ours_opt.step()
