"""Causal scaled dot-product attention, forward + backward, tinytorch vs torch (case 2).

Shapes (B=16, H=6, T=256, head_dim=64) are those of the bigger GPT's attention with twice its
batch. Each step starts from cleared gradients and back-propagates a fixed upstream gradient.
torch runs `F.scaled_dot_product_attention(is_causal=True)`, its fused CPU kernel.
"""

from __future__ import annotations

import numpy as np
import torch

from benchmarks.timing import compare
from tinytorch.core.attention import scaled_dot_product_attention
from tinytorch.core.tensor import Tensor

SHAPE = (16, 6, 256, 64)  # batch, heads, sequence length, head_dim


def run(reps: int, warmup: int, shape: tuple[int, int, int, int] = SHAPE) -> list[dict]:
    rng = np.random.default_rng(0)
    q, k, v, upstream = (rng.standard_normal(shape, dtype=np.float32) for _ in range(4))
    ours = [Tensor(a, requires_grad=True) for a in (q, k, v)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    torch_upstream = torch.from_numpy(upstream)

    def tinytorch_step() -> None:
        for t in ours:
            t.grad = None
        scaled_dot_product_attention(*ours, is_causal=True).backward(upstream)

    def torch_step() -> None:
        for t in theirs:
            t.grad = None
        out = torch.nn.functional.scaled_dot_product_attention(*theirs, is_causal=True)
        out.backward(torch_upstream)

    batch, heads, length, head_dim = shape
    name = f"attention fwd+bwd B={batch} H={heads} T={length} hd={head_dim}"
    return [{"case": name, **compare(tinytorch_step, torch_step, reps, warmup)}]
