"""Memory soak: does a long training run hold a flat memory profile?

Trains in-process exactly as `tinytorch train` does (the same Trainer: AdamW, gradient clipping,
evaluation and checkpoints at every eval interval, metrics) on the built-in corpus, and prints
the resident set size at chosen steps: VmRSS (now) and the peak so far (VmHWM), both from
/proc/self/status, plus the number of live Tensor objects. A graph retained by accident adds one
step's activations per step, so RSS at step 2,000 would sit far above RSS at step 100.
Not a test: the default run takes a minute or two (`tests/reliability/test_memory_stability.py`
is the fast regression guard).

    python -m benchmarks.memory_soak                       # test preset, 2,000 steps
    python -m benchmarks.memory_soak --preset tiny --num-layers 1
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import tempfile
import time

from threadpoolctl import threadpool_limits

from tinytorch import train
from tinytorch.core.random import manual_seed
from tinytorch.core.tensor import Tensor
from tinytorch.models.transformer import GPT
from tinytorch.run_directory import RunDirectory
from tinytorch.train_config import PRESETS, new_run_configs
from tinytorch.training_data import prepare_data


def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS, VmHWM) in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError(f"{field} missing from /proc/self/status")


def _live_tensors() -> int:
    return sum(issubclass(type(o), Tensor) for o in gc.get_objects())


def soak(
    preset: str, steps: int, num_layers: int | None, eval_interval: int, report_at: list[int]
) -> list[dict]:
    """Train `steps` steps and return one measurement per step in `report_at`."""
    model_flags = {} if num_layers is None else {"num_layers": num_layers}
    train_flags = {"preset": preset, "steps": steps, "eval_interval": eval_interval}
    shape, config = new_run_configs(model_flags, train_flags, None)
    data = prepare_data(config, shape.max_seq_len)
    manual_seed(config.seed)
    model = GPT(dataclasses.replace(shape, vocab_size=data.tokenizer.vocab_size))
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as out_dir:
        run_dir = RunDirectory(out_dir)
        trainer = train.Trainer(config, run_dir, data, model, echo=lambda line: None)
        trainer.save_checkpoint()
        started = time.perf_counter()

        def measure() -> bool:  # called by `fit` after every step, as Ctrl-C's check is
            if trainer.step in report_at:
                rows.append(
                    {
                        "step": trainer.step,
                        "rss_mb": _status_mb("VmRSS"),
                        "peak_rss_mb": _status_mb("VmHWM"),
                        "live_tensors": _live_tensors(),
                        "seconds": time.perf_counter() - started,
                    }
                )
            return False

        with threadpool_limits(limits=1, user_api="blas"):  # as `train.run` does
            trainer.fit(measure)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=tuple(PRESETS), default="test")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--num-layers", type=int, help="override the preset's layer count")
    parser.add_argument(
        "--eval-interval", type=int, default=250, help="evaluate and checkpoint every N steps"
    )
    parser.add_argument(
        "--report-at", type=int, nargs="+", default=[100, 500, 1000, 1500, 2000], metavar="STEP"
    )
    options = parser.parse_args()
    rows = soak(
        options.preset, options.steps, options.num_layers, options.eval_interval, options.report_at
    )
    layers = options.num_layers or PRESETS[options.preset]["num_layers"]
    print(
        f"memory soak: preset {options.preset}, {layers} layer(s), {options.steps} steps, "
        f"checkpoint every {options.eval_interval}"
    )
    print(f"{'step':>6} {'VmRSS MB':>10} {'peak MB':>10} {'live Tensors':>13} {'seconds':>8}")
    for r in rows:
        print(
            f"{r['step']:>6} {r['rss_mb']:>10.1f} {r['peak_rss_mb']:>10.1f} "
            f"{r['live_tensors']:>13} {r['seconds']:>8.1f}"
        )
    if len(rows) >= 2:
        first, last = rows[0], rows[-1]
        rss, peak = (last[k] - first[k] for k in ("rss_mb", "peak_rss_mb"))
        tensors = last["live_tensors"] - first["live_tensors"]
        print(
            f"from step {first['step']} to {last['step']}: RSS {rss:+.1f} MB, peak {peak:+.1f} "
            f"MB, live Tensors {tensors:+d}"
        )


if __name__ == "__main__":
    main()
