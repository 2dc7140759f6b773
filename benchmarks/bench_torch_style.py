"""A GPT training step written for PyTorch, run on tinytorch: as fast as tinytorch's own GPT?

`benchmarks/torch_style_gpt.py` is nanoGPT-style model code written against `torch` (one fused
q/k/v projection split three ways, `F.layer_norm`, `F.scaled_dot_product_attention`, exact GELU,
cross-entropy over flattened logits). It is timed three ways at the same shape and from the same
weights: on tinytorch through `import_as_torch` (the code unchanged), on PyTorch itself, and
against tinytorch's native `GPT` (`tinytorch.models.transformer`, exact GELU so the math is the
same). The row's ratio is torch-style-on-tinytorch / PyTorch; `style_over_native` is the price
of writing the model the PyTorch way instead of with tinytorch's modules.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

import benchmarks.torch_style_gpt as on_torch
import tinytorch
from benchmarks.bench_gpt_step import SMALL, GPTSize
from benchmarks.timing import compare
from tinytorch.models.transformer import GPT
from tinytorch.torch_api.as_torch import import_as_torch

LR, BETAS, WEIGHT_DECAY = 1e-3, (0.9, 0.95), 0.1


def run(size: GPTSize, reps: int, warmup: int) -> list[dict]:
    on_tinytorch = import_as_torch(on_torch.__file__)
    settings = dict(
        vocab=size.vocab_size,
        context=size.block_size,
        layers=size.num_layers,
        heads=size.num_heads,
        width=size.embed_dim,
    )
    torch.manual_seed(0)
    theirs = on_torch.TinyGPT(on_torch.Settings(**settings))
    ours = on_tinytorch.TinyGPT(on_tinytorch.Settings(**settings))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    tinytorch.manual_seed(0)
    native = GPT(
        size.vocab_size,
        size.embed_dim,
        size.num_layers,
        size.num_heads,
        size.block_size,
        activation="gelu",
    )
    rng = np.random.default_rng(0)
    shape = (size.batch_size, size.block_size)
    ids, targets = rng.integers(0, size.vocab_size, shape), rng.integers(0, size.vocab_size, shape)

    style = functools.partial(
        on_tinytorch.train_step,
        ours,
        ours.optimizer(WEIGHT_DECAY, LR, BETAS, "cpu"),
        tinytorch.tensor(ids),
        tinytorch.tensor(targets),
    )
    pytorch = functools.partial(
        on_torch.train_step,
        theirs,
        theirs.optimizer(WEIGHT_DECAY, LR, BETAS, "cpu"),
        torch.from_numpy(ids),
        torch.from_numpy(targets),
    )
    native_optimizer = tinytorch.optim.AdamW(
        native.parameters(), lr=LR, betas=BETAS, weight_decay=WEIGHT_DECAY
    )
    # The file's own step, as written for PyTorch, drives the native GPT too.
    own_api = functools.partial(on_torch.train_step, native, native_optimizer, ids, targets)
    versus_torch = compare(style, pytorch, reps, warmup)
    versus_native = compare(style, own_api, reps, warmup)
    return [
        {
            "case": f"torch-style {size.describe()}",
            **versus_torch,
            "native_ms": versus_native["torch_ms"],
            "style_over_native": versus_native["ratio"],
            "best_style_over_native": versus_native["best_ratio"],
        }
    ]


if __name__ == "__main__":
    for row in run(SMALL, reps=10, warmup=2):
        print(row)
