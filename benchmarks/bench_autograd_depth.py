"""Backward time of a residual network against its depth: it should grow linearly.

Each block is `x = x + relu(Linear(x))`, so every block's input feeds two paths (skip and
branch). An engine that revisited shared nodes would take ~2**depth steps; ours visits each node
once, so time per block stays flat as depth doubles.

    .venv/bin/python benchmarks/bench_autograd_depth.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from tinytorch.core.layers import Linear
from tinytorch.core.random import manual_seed
from tinytorch.core.tensor import Tensor


def backward_seconds(depth: int, width: int, batch: int, repeats: int) -> float:
    """Median wall time of one backward pass (the forward is rebuilt, untimed, each repeat)."""
    manual_seed(0)
    blocks = [Linear(width, width) for _ in range(depth)]
    x = Tensor(np.random.default_rng(0).standard_normal((batch, width)), requires_grad=True)
    times = []
    for _ in range(repeats):
        h = x
        for block in blocks:
            h = h + block(h).relu()
        loss = h.mean()
        start = time.perf_counter()
        loss.backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[10, 20, 40, 80])
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    print(
        f"residual blocks x + relu(Linear({args.width}, {args.width})(x)), batch {args.batch}, "
        f"median of {args.repeats}"
    )
    print(f"{'depth':>6} {'backward ms':>12} {'us per block':>13} {'per block vs first':>19}")
    first = None
    for depth in args.depths:
        seconds = backward_seconds(depth, args.width, args.batch, args.repeats)
        first = first or seconds / depth
        per_block = seconds / depth
        print(
            f"{depth:>6} {seconds * 1e3:>12.2f} {per_block * 1e6:>13.1f} "
            f"{per_block / first:>18.2f}x"
        )


if __name__ == "__main__":
    main()
