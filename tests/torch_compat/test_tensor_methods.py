"""Tensor methods as PyTorch code calls them: values, dtypes, shapes and gradients vs PyTorch.

Each case is written once as `fn(L, x)` and run on a tinytorch and a torch tensor built from the
same array; differentiable cases also compare the input's gradient under a random upstream
gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tinytorch
from tests.torch_compat.parity import assert_same

X = np.random.default_rng(0).permutation(24).reshape(2, 3, 4).astype(np.float32) / 7


def pair(array=X, requires_grad=True):
    return (
        tinytorch.tensor(array, requires_grad=requires_grad),
        torch.tensor(array, requires_grad=requires_grad),
    )


DIFFERENTIABLE = {
    "view": lambda L, x: x.view(6, 4),
    "view-minus-one": lambda L, x: x.view(-1),
    "reshape": lambda L, x: x.reshape(3, -1),
    "transpose": lambda L, x: x.transpose(1, 2),
    "transpose-contiguous-view": lambda L, x: x.transpose(0, 1).contiguous().view(3, 8),
    "permute": lambda L, x: x.permute(2, 0, 1),
    "t": lambda L, x: x[0].t(),
    "masked_fill": lambda L, x: x.masked_fill(x > 1.5, float("-inf")).exp(),
    "split-dim": lambda L, x: x.split(2, dim=2)[1],
    "split-sizes": lambda L, x: x.split([1, 3], dim=-1)[1],
    "chunk": lambda L, x: x.chunk(3, dim=2)[1],
    "chunk-top": lambda L, x: L.chunk(x, 2, dim=1)[1],
    "max-values": lambda L, x: x.max(dim=1).values,
    "max-keepdim": lambda L, x: x.max(-1, keepdim=True)[0],
    "max-all": lambda L, x: x.max(),
    "min-values": lambda L, x: x.min(dim=0).values,
    "amax": lambda L, x: x.amax(dim=(0, 2)),
    "topk-values": lambda L, x: x.topk(2, dim=-1).values,
    "topk-smallest": lambda L, x: L.topk(x, 3, dim=1, largest=False)[0],
    "gather": lambda L, x: x.gather(2, L.tensor([[[0, 0, 3]] * 3] * 2)),
    "tril": lambda L, x: L.tril(x),
    "triu": lambda L, x: L.triu(x, diagonal=1),
    "clone": lambda L, x: x.clone() * 2,
    "pow": lambda L, x: x.pow(2),
    "rsqrt": lambda L, x: (x + 1).rsqrt(),
    "float-double": lambda L, x: x.double().float(),
    "to-dtype": lambda L, x: x.to(L.float64),
    "to-cpu": lambda L, x: x.to("cpu") * 1,
    "to-device-object": lambda L, x: x.to(L.device("cpu"), L.float64),
    "to-keyword": lambda L, x: x.to(device="cpu", dtype=L.float64),
    "cpu": lambda L, x: x.cpu() * 1,
    "softmax-dim": lambda L, x: x.softmax(dim=1),
    "sum-dim": lambda L, x: x.sum(dim=-1, keepdim=True),
    "mean-dim": lambda L, x: x.mean(dim=(0, 1)),
    "unsqueeze": lambda L, x: x.unsqueeze(1),
    "flatten": lambda L, x: x.flatten(1),
    "cat-stack": lambda L, x: L.cat([L.stack([x, x], dim=1), x.unsqueeze(1)], dim=1),
    "where": lambda L, x: L.where(x > 1, x, x * 0),
    "tanh-exp-log-sqrt": lambda L, x: L.tanh(L.exp(L.log(L.sqrt(x + 1)))),
    "pow-top": lambda L, x: L.pow(x, 3),
    "softmax-top": lambda L, x: L.softmax(x, dim=-1),
}


@pytest.mark.parametrize("fn", DIFFERENTIABLE.values(), ids=DIFFERENTIABLE.keys())
def test_values_and_gradients_match_pytorch(fn):
    ours_x, theirs_x = pair()
    ours, theirs = fn(tinytorch, ours_x), fn(torch, theirs_x)
    assert_same(ours, theirs)
    upstream = np.random.default_rng(1).standard_normal(tuple(theirs.shape)).astype(np.float32)
    ours.backward(upstream.astype(ours.dtype))
    theirs.backward(torch.tensor(upstream, dtype=theirs.dtype))
    np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), rtol=1e-5, atol=1e-6)


NOT_DIFFERENTIABLE = {
    "size": lambda L, x: tuple(x.size()),
    "size-dim": lambda L, x: (x.size(0), x.size(-1)),
    "shape": lambda L, x: tuple(x.shape),
    "dim-numel": lambda L, x: (x.dim(), x.numel(), x.ndimension(), x.nelement()),
    "size-numel": lambda L, x: x.size().numel(),
    "max-indices": lambda L, x: x.max(dim=1).indices,
    "min-indices": lambda L, x: x.min(2)[1],
    "topk-indices": lambda L, x: x.topk(3).indices,
    "argmax": lambda L, x: x.argmax(),
    "argmax-dim": lambda L, x: x.argmax(dim=-1),
    "argmax-keepdim": lambda L, x: L.argmax(x, dim=1, keepdim=True),
    "argmin-dim": lambda L, x: x.argmin(dim=0),
    "item": lambda L, x: x[1, 2, 3].item(),
    "tolist": lambda L, x: x[0, :2].tolist(),
    "numpy": lambda L, x: x.detach().numpy(),
    "long": lambda L, x: (x * 3).long(),
    "int": lambda L, x: (x * 3).int(),
    "bool": lambda L, x: (x > 1).bool(),
    "to-tensor": lambda L, x: x.to(L.zeros(1, dtype=L.long)),
    "float-int-index": lambda L, x: (float(x[0, 0, 0]), int(x.argmax()), [*range(24)][x.argmin()]),
    "iterate": lambda L, x: [row.sum().item() for row in x[0]],
    "slice-by-tensor": lambda L, x: x[0, L.tensor(1) : L.tensor(1) + 2],
    "comparisons": lambda L, x: ((x > 1) == (x >= 1)).sum(),
    "is_contiguous": lambda L, x: (x.is_contiguous(), x.transpose(0, 1).is_contiguous()),
    "device": lambda L, x: (str(x.device), x.device.type, x.is_cuda),
}


@pytest.mark.parametrize("fn", NOT_DIFFERENTIABLE.values(), ids=NOT_DIFFERENTIABLE.keys())
def test_results_match_pytorch(fn):
    ours_x, theirs_x = pair(requires_grad=False)
    assert_same(fn(tinytorch, ours_x), fn(torch, theirs_x))


def test_size_is_a_size_and_numel_the_element_count():
    x = tinytorch.zeros(2, 3)
    assert isinstance(x.size(), tinytorch.Size) and isinstance(x.size(), tuple)
    assert repr(x.size()) == "tinytorch.Size([2, 3])" and x.size().numel() == 6 == x.numel()
    with pytest.raises(IndexError, match="out of range"):
        x.size(2)


def test_max_and_topk_return_named_pairs():
    x = tinytorch.tensor([[1.0, 3.0, 2.0]])
    values, indices = x.max(dim=1)
    assert values.tolist() == [3.0] and indices.tolist() == [1]
    top = tinytorch.topk(x, 2)
    assert top.values.tolist() == [[3.0, 2.0]] and top.indices.tolist() == [[1, 2]]
    assert x.max().item() == 3.0 and x.max().shape == ()
    with pytest.raises(TypeError, match="use amax for several"):
        x.max(dim=(0, 1))
    # min mirrors max: the same pair, NumPy's spellings too, and the same refusal
    assert x.min(axis=1).indices.tolist() == [0]
    assert x.min(dim=1, keepdims=True).values.shape == (1, 1)
    with pytest.raises(TypeError, match=r"min\(dim\) takes one dim, got \(0, 1\); use amin for"):
        x.min(dim=(0, 1))
    with pytest.raises(ValueError, match="topk: k must be an integer in \\[0, 3\\]"):
        x.topk(4)


def test_max_along_a_dim_sends_the_gradient_to_the_returned_index_like_pytorch():
    ties = np.array([[2.0, 2.0, 1.0]], dtype=np.float32)
    for op in (lambda x: x.max(dim=1).values, lambda x: x.amax(dim=1), lambda x: x.max()):
        ours_x, theirs_x = pair(ties)
        op(ours_x).sum().backward()
        op(theirs_x).sum().backward()
        np.testing.assert_array_equal(ours_x.grad, theirs_x.grad.numpy())


def test_contiguous_copies_only_a_non_contiguous_tensor():
    x = tinytorch.zeros(2, 3)
    assert x.contiguous() is x
    y = x.t().contiguous()
    assert y.is_contiguous() and not np.shares_memory(y.data, x.data)


def test_cuda_and_half_are_refused():
    with pytest.raises(ValueError, match="tinytorch runs on the CPU only, got device 'cuda'"):
        tinytorch.zeros(2).cuda()
    with pytest.raises(ValueError, match="got device 'mps'"):
        tinytorch.zeros(2).to("mps")
    with pytest.raises(TypeError, match="not supported"):
        tinytorch.zeros(2).half()
