"""Regression guard for long runs: a training step leaves no graph behind.

A graph kept alive by accident (a loss stored with its history, a cache holding a Tensor that
requires grad) grows memory by one step's activations per step. Counting the live `Tensor` and
`Function` objects after every step catches that within a few steps; the full-length soak that
measures RSS over 2,000 steps is `benchmarks/memory_soak.py`.
"""

from __future__ import annotations

import gc
from pathlib import Path

from tinytorch import train
from tinytorch.core.autograd import Function
from tinytorch.core.random import manual_seed
from tinytorch.core.tensor import Tensor
from tinytorch.models.transformer import GPT
from tinytorch.run_directory import RunDirectory
from tinytorch.train_config import new_run_configs
from tinytorch.training_data import prepare_data

STEPS = 50


def _live_objects() -> tuple[int, int]:
    """(live Tensors, live graph nodes: Functions still holding their inputs)."""
    tensors = nodes = 0
    for o in gc.get_objects():
        kind = type(o)  # not isinstance: that reads __class__, which some torch objects warn on
        if issubclass(kind, Tensor):
            tensors += 1
        elif issubclass(kind, Function) and o.inputs:
            nodes += 1
    return tensors, nodes


def test_training_steps_keep_a_constant_number_of_tensors_and_no_graph(tmp_path: Path) -> None:
    _, config = new_run_configs({}, {"preset": "test", "steps": STEPS}, None)
    data = prepare_data(config, block_size=16)
    manual_seed(0)
    model = GPT(data.tokenizer.vocab_size, embed_dim=32, num_layers=2, num_heads=2, max_seq_len=16)
    trainer = train.Trainer(config, RunDirectory(tmp_path), data, model, echo=lambda line: None)

    counts = []
    gc.collect()
    gc.disable()  # so every count below reflects reference counting alone: no cycles to wait for
    try:
        for step in range(1, STEPS + 1):
            trainer.train_step()  # forward, backward, gradient clipping, AdamW, LR schedule
            if step % 10 == 0:
                trainer.evaluate()  # the no_grad path must not keep anything either
            counts.append(_live_objects())
    finally:
        gc.enable()

    tensors, nodes = zip(*counts, strict=True)
    assert set(nodes) == {0}, "a graph node outlived its step"
    # From the second step on (AdamW creates its moment buffers on the first) nothing grows.
    assert set(tensors[1:]) == {tensors[1]}, tensors
    assert trainer.step == STEPS
