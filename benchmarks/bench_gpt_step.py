"""One GPT training step (forward, loss, backward, AdamW step), tinytorch vs its torch twin.

Both models start from the same weights (tinytorch's state dict loaded into the twin of
`benchmarks/torch_reference.py`), see the same batch, and step with AdamW (lr 1e-3, weight
decay 0.01). Also here: backward time against depth, which should grow linearly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from benchmarks.timing import compare
from benchmarks.torch_reference import TorchGPT
from tinytorch.core.optimizers import AdamW
from tinytorch.core.random import manual_seed
from tinytorch.models.transformer import GPT


@dataclass(frozen=True)
class GPTSize:
    vocab_size: int
    num_layers: int
    num_heads: int
    embed_dim: int
    block_size: int
    batch_size: int

    def describe(self) -> str:
        return (
            f"GPT step V={self.vocab_size} L={self.num_layers} H={self.num_heads} "
            f"D={self.embed_dim} T={self.block_size} B={self.batch_size}"
        )


# nanoGPT's CPU recipe for Shakespeare characters, and a size closer to its GPU recipe.
SMALL = GPTSize(
    vocab_size=65, num_layers=4, num_heads=4, embed_dim=128, block_size=64, batch_size=12
)
BIG = GPTSize(vocab_size=65, num_layers=6, num_heads=6, embed_dim=384, block_size=256, batch_size=8)
DEPTHS = (2, 4, 8, 16)


@dataclass
class Pair:
    """The same GPT in both libraries, with optimizers and one batch."""

    ours: GPT
    theirs: TorchGPT
    ours_optimizer: AdamW
    theirs_optimizer: torch.optim.AdamW
    ids: np.ndarray
    targets: np.ndarray


def make_pair(size: GPTSize, seed: int = 0) -> Pair:
    manual_seed(seed)
    ours = GPT(size.vocab_size, size.embed_dim, size.num_layers, size.num_heads, size.block_size)
    theirs = TorchGPT(
        size.vocab_size,
        size.embed_dim,
        size.num_layers,
        size.num_heads,
        size.block_size,
        tie_weights=True,
    )
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(seed)
    shape = (size.batch_size, size.block_size)
    return Pair(
        ours,
        theirs,
        AdamW(ours.parameters(), lr=1e-3, weight_decay=0.01),
        torch.optim.AdamW(theirs.parameters(), lr=1e-3, weight_decay=0.01),
        rng.integers(0, size.vocab_size, shape),
        rng.integers(0, size.vocab_size, shape),
    )


def tinytorch_step(pair: Pair) -> Callable[[], None]:
    def step() -> None:
        pair.ours_optimizer.zero_grad()
        _, loss = pair.ours(pair.ids, pair.targets)
        loss.backward()
        pair.ours_optimizer.step()

    return step


def torch_step(pair: Pair) -> Callable[[], None]:
    ids, targets = torch.from_numpy(pair.ids), torch.from_numpy(pair.targets)

    def step() -> None:
        pair.theirs_optimizer.zero_grad()
        logits = pair.theirs(ids)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())
        loss.backward()
        pair.theirs_optimizer.step()

    return step


def run(size: GPTSize, reps: int, warmup: int) -> list[dict]:
    pair = make_pair(size)
    timing = compare(tinytorch_step(pair), torch_step(pair), reps, warmup)
    return [{"case": size.describe(), **timing}]


def _backward_ms(forward_loss: Callable[[], object], reps: int, warmup: int) -> float:
    """Median time of `loss.backward()` alone; the forward before it is not timed."""
    samples = []
    for i in range(warmup + reps):
        loss = forward_loss()
        start = time.perf_counter()
        loss.backward()
        if i >= warmup:
            samples.append(1000.0 * (time.perf_counter() - start))
    return float(np.median(samples))


def run_depth(reps: int, warmup: int, depths: tuple[int, ...] = DEPTHS) -> list[dict]:
    """Backward of the small GPT's training step at several depths, both libraries."""
    rows = []
    for depth in depths:
        size = GPTSize(
            SMALL.vocab_size,
            depth,
            SMALL.num_heads,
            SMALL.embed_dim,
            SMALL.block_size,
            SMALL.batch_size,
        )
        pair = make_pair(size)
        ids, targets = torch.from_numpy(pair.ids), torch.from_numpy(pair.targets)

        def ours_loss(pair: Pair = pair) -> object:
            pair.ours.zero_grad()
            return pair.ours(pair.ids, pair.targets)[1]

        def theirs_loss(
            pair: Pair = pair, ids: torch.Tensor = ids, targets: torch.Tensor = targets
        ) -> object:
            pair.theirs.zero_grad()
            logits = pair.theirs(ids)
            return torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())

        ours = _backward_ms(ours_loss, reps, warmup)
        theirs = _backward_ms(theirs_loss, reps, warmup)
        rows.append(
            {
                "case": f"GPT backward, {depth} layers",
                "layers": depth,
                "tinytorch_ms": ours,
                "torch_ms": theirs,
                "ratio": ours / theirs,
                "tinytorch_ms_per_layer": ours / depth,
                "torch_ms_per_layer": theirs / depth,
            }
        )
    return rows
