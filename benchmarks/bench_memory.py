"""Peak memory of one GPT training step, each library measured in a fresh subprocess.

Method (printed with the table): a new Python process per library builds the model and AdamW,
runs a tiny matmul so BLAS has allocated its work buffers, then resets the kernel's peak-RSS
counter (`/proc/self/clear_refs`) and runs the first training step. Reported is peak RSS during
the step minus RSS before it: activations, gradients and AdamW's two moment buffers (created on
the first step in both libraries). The same rule for both libraries keeps the ratio fair. For
tinytorch, `tracemalloc` also gives the exact peak of bytes NumPy allocated during the step
(NumPy reports its buffers to tracemalloc), as a cross-check of the RSS figure.

    python -m benchmarks.bench_memory --framework tinytorch --size small --threads 1
"""

from __future__ import annotations

import argparse
import gc
import json
import tracemalloc

import numpy as np
import torch

import tinytorch
from benchmarks.bench_gpt_step import BIG, SMALL, GPTSize
from benchmarks.environment import set_threads
from benchmarks.timing import in_fresh_process
from benchmarks.torch_reference import TorchGPT
from tinytorch.core.optimizers import AdamW
from tinytorch.models.transformer import GPT

SIZES = {"small": SMALL, "big": BIG}
METHOD = (
    "peak memory: one fresh process per library, first training step after building the model, "
    "peak RSS during the step minus RSS before it (includes gradients and AdamW state); "
    "tracemalloc = peak bytes NumPy allocated during the tinytorch step"
)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # 5 = reset the peak resident set size (VmHWM)


def _measure(step: object, trace: bool) -> dict[str, float]:
    gc.collect()
    before = _status_kib("VmRSS")
    _reset_peak_rss()
    if trace:
        tracemalloc.start()
    step()
    result = {"rss_delta_mb": (_status_kib("VmHWM") - before) * 1024 / 1e6}
    if trace:
        result["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return result


def measure_in_this_process(framework: str, size: GPTSize) -> dict[str, float]:
    rng = np.random.default_rng(0)
    shape = (size.batch_size, size.block_size)
    ids, targets = rng.integers(0, size.vocab_size, shape), rng.integers(0, size.vocab_size, shape)
    args = (size.vocab_size, size.embed_dim, size.num_layers, size.num_heads, size.block_size)
    if framework == "tinytorch":
        model = GPT(*args)
        optimizer = AdamW(model.parameters(), lr=1e-3)
        np.ones((64, 64), np.float32) @ np.ones((64, 64), np.float32)

        def step() -> None:
            _, loss = model(ids, targets)
            loss.backward()
            optimizer.step()

        return _measure(step, trace=True)
    twin = TorchGPT(*args, tie_weights=True)
    torch_optimizer = torch.optim.AdamW(twin.parameters(), lr=1e-3)
    torch.ones(64, 64) @ torch.ones(64, 64)
    torch_ids, torch_targets = torch.from_numpy(ids), torch.from_numpy(targets)

    def torch_step() -> None:
        logits = twin(torch_ids)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), torch_targets.flatten())
        loss.backward()
        torch_optimizer.step()

    return _measure(torch_step, trace=False)


def _in_subprocess(framework: str, size_name: str, threads: int) -> dict[str, float]:
    return in_fresh_process("benchmarks.bench_memory", "--framework", framework, "--size",
                            size_name, "--threads", str(threads))


def run(threads: int, sizes: tuple[str, ...] = ("small", "big")) -> list[dict]:
    rows = []
    for name in sizes:
        ours = _in_subprocess("tinytorch", name, threads)
        theirs = _in_subprocess("torch", name, threads)
        rows.append(
            {
                "case": f"peak memory, {SIZES[name].describe()} (MB)",
                "tinytorch_mb": ours["rss_delta_mb"],
                "torch_mb": theirs["rss_delta_mb"],
                "ratio": ours["rss_delta_mb"] / theirs["rss_delta_mb"],
                "tinytorch_tracemalloc_mb": ours["tracemalloc_peak_mb"],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("tinytorch", "torch"), required=True)
    parser.add_argument("--size", choices=tuple(SIZES), required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    set_threads(args.threads)
    tinytorch.keep_freed_memory()  # as `tinytorch train` does
    print(json.dumps(measure_in_this_process(args.framework, SIZES[args.size])))


if __name__ == "__main__":
    main()
