"""Embedding forward + backward, tinytorch vs torch.nn.Embedding, dense and sparse gradients.

Each step looks up a fixed batch of ids and back-propagates a fixed upstream gradient
(`out.backward(g)`), starting from `weight.grad = None` so no accumulation is timed. Both
libraries run in this process on float32 with torch limited to numpy's thread count; the
libraries take turns in blocks of steps (`benchmarks.timing.compare`). Reported: median ms per step.

    python benchmarks/bench_embedding.py [--reps 15]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import numpy as np
import torch

from benchmarks.timing import compare
from tinytorch.text.embeddings import Embedding

# (vocab_size, embed_dim, number of ids): a GPT-2-sized vocabulary, and a character-level one.
CASES = ((50000, 256, 65536), (65, 384, 16384))


def numpy_thread_count() -> int:
    """Threads OpenBLAS uses: its environment override, else the CPUs this process may run on."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return len(os.sched_getaffinity(0))


def _steps(
    vocab_size: int, embed_dim: int, num_ids: int, sparse: bool
) -> dict[str, Callable[[], None]]:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, vocab_size, num_ids)
    upstream = rng.standard_normal((num_ids, embed_dim), dtype=np.float32)
    ours = Embedding(vocab_size, embed_dim, sparse=sparse)
    theirs = torch.nn.Embedding(vocab_size, embed_dim, sparse=sparse)
    torch_ids, torch_upstream = torch.from_numpy(ids), torch.from_numpy(upstream)

    def tinytorch_step() -> None:
        ours.weight.grad = None
        ours(ids).backward(upstream)

    def torch_step() -> None:
        theirs.weight.grad = None
        theirs(torch_ids).backward(torch_upstream)

    return {"tinytorch": tinytorch_step, "torch": torch_step}


def run(reps: int = 15, warmup: int = 3, cases: tuple = CASES) -> list[dict]:
    """One row per (case, sparse): sizes, median and best ms of both libraries, their ratios.

    The median is the headline; the best (minimum) time is less sensitive to other processes on
    a shared machine, so both ratios are reported.
    """
    torch.set_num_threads(numpy_thread_count())
    rows = []
    for vocab_size, embed_dim, num_ids in cases:
        for sparse in (False, True):
            steps = _steps(vocab_size, embed_dim, num_ids, sparse)
            timings = compare(steps["tinytorch"], steps["torch"], reps, warmup)
            rows.append(
                {
                    "vocab_size": vocab_size,
                    "embed_dim": embed_dim,
                    "num_ids": num_ids,
                    "sparse": sparse,
                    **timings,
                }
            )
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as a fixed-width table: median ms, ratio, then the same for the best step."""
    lines = [
        f"embedding forward+backward, float32, {torch.get_num_threads()} threads "
        "(ms: median and best of the timed steps)",
        f"{'V':>6} {'D':>4} {'ids':>6} {'grad':>6} | {'tinytorch':>9} {'torch':>7} {'ratio':>5}"
        f" | {'best tt':>7} {'torch':>7} {'ratio':>5}",
    ]
    for r in rows:
        lines.append(
            f"{r['vocab_size']:>6} {r['embed_dim']:>4} {r['num_ids']:>6} "
            f"{'sparse' if r['sparse'] else 'dense':>6} | {r['tinytorch_ms']:>9.1f} "
            f"{r['torch_ms']:>7.1f} {r['ratio']:>5.2f} | {r['tinytorch_best_ms']:>7.1f} "
            f"{r['torch_best_ms']:>7.1f} {r['best_ratio']:>5.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="timed steps per library and case")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    args = parser.parse_args()
    print(format_table(run(args.reps, args.warmup)))


if __name__ == "__main__":
    main()
