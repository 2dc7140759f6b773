"""The training loop behind `tinytorch train`: batches, AdamW steps, evaluation, checkpoints.

A run is a pure function of its configs and seed: model initialisation draws from tinytorch's
generator, batches from a dedicated `np.random.default_rng(seed)`, evaluation scores fixed windows
of the held-out text (`tinytorch.evaluation`), and BLAS runs on one thread (see `run`); a run with
a `--time-budget` also depends on the machine's speed (`tinytorch.time_budget`). Both generators'
states, the optimizer and the schedule go into every checkpoint, so a resumed run continues
bit-exactly where the interrupted one stopped. Every file goes through `RunDirectory`; the
configs come from `train_config`, the text from `training_data`.

Ctrl-C does not kill a step half-way: the first SIGINT only raises a flag, the loop finishes
the step, saves a checkpoint and raises `TrainingInterrupted`. A second Ctrl-C interrupts at once
(the checkpoint on disk stays intact thanks to atomic writes).
"""

from __future__ import annotations

import functools
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from tinytorch.core.optimizers import AdamW, WarmupCosineSchedule, clip_grad_norm_
from tinytorch.core.random import get_rng_state, manual_seed, set_rng_state
from tinytorch.data import get_batch
from tinytorch.evaluation import HeldOutScore, HeldOutWindows, score_model
from tinytorch.interrupts import sigint_sets_flag
from tinytorch.loss_plot import loss_plot_png
from tinytorch.memory_budget import check_training_fits
from tinytorch.models.gpt_config import GPTConfig
from tinytorch.models.transformer import GPT
from tinytorch.pretrained import init_from
from tinytorch.run_directory import CONFIG_FILE, RunConfig, RunDirectory
from tinytorch.time_budget import TimeBudget, budget_raised
from tinytorch.train_config import (
    TrainConfig,
    TrainingError,
    new_run_configs,
    resumed_run_configs,
    text_sha256,
)
from tinytorch.training_data import TrainingData, prepare_data, read_training_text
from tinytorch.validation_report import comparisons, describe_validation

__all__ = ["TrainResult", "Trainer", "TrainingError", "TrainingInterrupted", "run"]

LOG_INTERVAL = 10
SAMPLE_CHARS = 200


class TrainingInterrupted(Exception):
    """Ctrl-C: a checkpoint of the current step was saved; resume with `--resume`."""

    def __init__(self, step: int, out_dir: str) -> None:
        super().__init__(f"interrupted at step {step}; checkpoint saved in {out_dir}")
        self.step, self.out_dir = step, out_dir


@dataclass
class TrainResult:
    step: int
    val_loss: float
    val_bits_per_char: float
    floor_bits_per_char: float | None
    baseline_bits_per_char: float  # the n-gram model's, on the same held-out tokens
    samples: list[str]


class Trainer:
    """One run: owns the model, optimizer, schedule and both random streams."""

    def __init__(
        self,
        config: TrainConfig,
        run_dir: RunDirectory,
        data: TrainingData,
        model: GPT,
        echo: Callable[[str], None],
        started: float | None = None,
    ) -> None:
        """`started`: time.perf_counter() when the command began (what --time-budget counts
        from; default now)."""
        self.config, self.run_dir, self.data, self.model, self.echo = (
            config, run_dir, data, model, echo
        )
        self.started = time.perf_counter() if started is None else started
        self.budget: TimeBudget | None = None  # set up by `fit` for a --time-budget run
        self.seconds_used_before = 0.0  # by earlier sessions of this run
        self.seconds_used = 0.0  # by the run, as of its last checkpoint
        self.block_size = model.config.max_seq_len
        decay = [p for p in model.parameters() if p.ndim >= 2]
        no_decay = [p for p in model.parameters() if p.ndim < 2]
        self.optimizer = AdamW(
            [
                {"params": decay, "weight_decay": config.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=config.lr,
            betas=config.betas,
        )
        min_lr = config.lr * 0.1 if config.min_lr is None else config.min_lr
        self.schedule = WarmupCosineSchedule(
            self.optimizer, config.warmup_steps, config.steps, min_lr=min_lr
        )
        self.data_rng = np.random.default_rng(config.seed)
        self.step = 0
        self.metrics: list[dict[str, Any]] = []
        self.best_val_loss: float | None = None
        self.last_val_loss: float | None = None
        self.last_val_bits: float | None = None
        self.loss_sum, self.loss_count = 0.0, 0  # train loss since the last metrics record
        self.last_checkpoint_step: int | None = None  # None until a checkpoint is complete

    @functools.cached_property
    def eval_windows(self) -> HeldOutWindows:
        """The held-out windows that evaluations during the run score (the last scores all)."""
        return self.data.held_out.sample(self.config.eval_tokens)

    # ------------------------------------------------------------------ state on disk
    def trainer_state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "best_val_loss": self.best_val_loss,
            "last_val_loss": self.last_val_loss,
            "last_val_bits_per_char": self.last_val_bits,
            "loss_sum": self.loss_sum,
            "loss_count": self.loss_count,
            "seconds": self.seconds_used,
            "schedule": self.schedule.state_dict(),
            "tinytorch_rng": get_rng_state(),
            "data_rng": self.data_rng.bit_generator.state,
        }

    def save_checkpoint(self) -> None:
        """Commit a checkpoint of this step, then redraw the plot."""
        self.seconds_used = self.seconds_used_before + time.perf_counter() - self.started
        with self._stop_on_write_error():
            if self.config.time_budget is not None:  # the steps planned so far
                self.run_dir.write_config(RunConfig(model=self.model.config, train=self.config))
            self.run_dir.commit_checkpoint(
                self.model, self.optimizer.state_dict(), self.trainer_state(), self.metrics
            )
            self.last_checkpoint_step = self.step
            self.run_dir.write_plot(
                loss_plot_png(
                    self.metrics,
                    self.data.tokens_per_char,
                    self.data.floor_bits_per_char,
                    self.data.baseline.bits_per_char,
                )
            )

    @contextmanager
    def _stop_on_write_error(self) -> Iterator[None]:
        """A failed write (full disk, lost permissions) ends the run saying what is still safe."""
        try:
            yield
        except OSError as e:
            reason = f"{e.filename}: {e.strerror}" if e.filename and e.strerror else str(e)
            kept = (
                "no checkpoint was completed"
                if self.last_checkpoint_step is None
                else f"the last complete checkpoint (step {self.last_checkpoint_step}) in "
                f"{self.run_dir.path} is intact"
            )
            raise TrainingError(
                f"could not write the run's files at step {self.step} ({reason}); stopped, and "
                f"{kept}"
            ) from e

    def restore(self) -> None:
        """Continue from the run directory's checkpoint (every file is validated on reading)."""
        optimizer_state, state = self.run_dir.read_training_state(
            self.model, self.optimizer, self.schedule
        )
        self.optimizer.load_state_dict(optimizer_state)
        # The schedule was built with this run's total (--steps may have raised it).
        self.schedule.load_state_dict(state["schedule"])
        set_rng_state(state["tinytorch_rng"])
        self.data_rng.bit_generator.state = state["data_rng"]
        self.step = state["step"]
        self.best_val_loss, self.last_val_loss = state["best_val_loss"], state["last_val_loss"]
        self.last_val_bits = state["last_val_bits_per_char"]
        self.loss_sum, self.loss_count = state["loss_sum"], state["loss_count"]
        self.seconds_used = self.seconds_used_before = state.get("seconds", 0.0)  # 0: older
        # Records logged after the checkpoint belong to steps that will be trained again.
        self.metrics = self.run_dir.read_metrics(up_to_step=self.step)
        self.last_checkpoint_step = self.step

    # ------------------------------------------------------------------------- steps
    def train_step(self) -> float:
        """One optimizer step on a random batch; returns the batch loss (before the update)."""
        x, y = get_batch(
            self.data.train_ids, self.block_size, self.config.batch_size, self.data_rng
        )
        _, loss = self.model(x, y)
        value = loss.item()
        if not math.isfinite(value):
            self._diverged(f"the loss is {value}")
        self.optimizer.zero_grad()
        loss.backward()
        norm = clip_grad_norm_(self.model.parameters(), self.config.grad_clip)
        if not math.isfinite(norm):
            self._diverged(f"the gradient norm is {norm}")
        self.optimizer.step()
        self.schedule.step()
        self.step += 1
        return value

    def _diverged(self, what: str) -> None:
        raise TrainingError(
            f"training diverged at step {self.step + 1}: {what}; stopped. The last good "
            f"checkpoint (step {self.last_checkpoint_step}) is in {self.run_dir.path} "
            "(try a lower --lr)"
        )

    def evaluate(self, everything: bool = False) -> HeldOutScore:
        """The model's score on the periodic sample of held-out windows, or on all of them."""
        windows = self.data.held_out if everything else self.eval_windows
        clock = time.perf_counter()
        score = score_model(self.model, windows, self.config.batch_size)
        if self.budget is not None:
            self.budget.timed_evaluation(time.perf_counter() - clock, windows.num_inputs)
        return score

    def log(self, lr: float, tokens_per_sec: float) -> dict[str, Any]:
        record: dict[str, Any] = {
            "step": self.step,
            "train_loss": self.loss_sum / self.loss_count,
            "lr": lr,
            "tokens_per_sec": round(tokens_per_sec, 1),
        }
        self.loss_sum, self.loss_count = 0.0, 0
        self.metrics.append(record)
        return record

    def fit(self, stop_requested: Callable[[], bool]) -> None:
        tokens_per_step = self.config.batch_size * self.block_size
        if self.config.time_budget is not None:
            self.budget = TimeBudget(
                self.config.time_budget,
                self.seconds_used_before,
                self.started,
                self.step,
                tokens_per_step,
                self.data.held_out.num_inputs,
            )
            self.budget.start_training(self.step, time.perf_counter())
            self._warmup_before_planning = self.config.warmup_steps
            self._plan(at_least=self.step + 1)  # a session trains at least one step
        bar = tqdm(
            total=self.config.steps,
            initial=self.step,
            file=sys.stderr,
            unit="step",
            dynamic_ncols=True,
            leave=False,
            disable=None,  # no bar when stderr is not a terminal (logs, pipes, tests)
        )
        try:
            clock, clock_step = time.perf_counter(), self.step
            while self.step < self.config.steps:
                lr = float(self.optimizer.param_groups[0]["lr"])
                loss = self.train_step()
                self.loss_sum += loss
                self.loss_count += 1
                if self.budget is not None:
                    self._plan(at_least=self.step)
                    bar.total = self.config.steps
                bar.update(1)
                now = time.perf_counter()
                speed = tokens_per_step * (self.step - clock_step) / max(now - clock, 1e-9)
                bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{speed:,.0f}", refresh=False)
                config = self.config
                evaluate = self.step % config.eval_interval == 0 or self.step == config.steps
                if evaluate or self.step % LOG_INTERVAL == 0:
                    record = self.log(lr, speed)
                    if evaluate:
                        self._evaluate_and_save(record)
                    else:
                        with self._stop_on_write_error():
                            self.run_dir.write_metrics(self.metrics)
                    clock, clock_step = time.perf_counter(), self.step  # speed excludes this
                if stop_requested() and self.step < config.steps:  # else the run is complete
                    if self.last_checkpoint_step != self.step:
                        self.save_checkpoint()
                    raise TrainingInterrupted(self.step, self.run_dir.path)
        finally:
            bar.close()

    def _plan(self, at_least: int) -> None:
        """Move the end of the run and of its schedule to the steps that fit in the budget."""
        assert self.budget is not None
        total = self.budget.planned_steps(self.step, time.perf_counter())
        if total is None or max(total, at_least) == self.config.steps:
            return
        total = max(total, at_least)
        warmup = min(self._warmup_before_planning, total)
        self.config = replace(self.config, steps=total, warmup_steps=warmup)
        self.schedule.set_total_steps(total, warmup)

    def _evaluate_and_save(self, record: dict[str, Any]) -> None:
        everything = self.step == self.config.steps  # the last evaluation scores every token
        score = self.evaluate(everything)
        val_loss, bits = score.loss, score.bits_per_char
        record.update(
            val_loss=val_loss,
            val_bits_per_char=bits,
            baseline_bits_per_char=self.data.baseline.bits_per_char,
        )
        if everything:
            record["val_tokens"] = score.targets
        self.last_val_loss, self.last_val_bits = val_loss, bits
        if self.best_val_loss is None or val_loss < self.best_val_loss:
            self.best_val_loss = val_loss
        self.echo(
            f"step {self.step:>6}/{self.config.steps}: train loss {record['train_loss']:.4f}  "
            f"val loss {val_loss:.4f}  val {bits:.3f} bits/char"
            + (" on all held-out tokens" if everything else "")
            + f"  ({comparisons(self.data)})"
        )
        self.save_checkpoint()

    def samples(self, max_chars: int = SAMPLE_CHARS) -> list[str]:
        """Seeded continuations of the sample prompts (text is deterministic for a seed)."""
        tokenizer, out = self.data.tokenizer, []
        new_tokens = max(1, round(max_chars * self.data.tokens_per_char))
        for i, prompt in enumerate(self.data.prompts):
            ids = tokenizer.encode_array(prompt)
            generated = self.model.generate(  # runs in eval mode, then restores the mode
                ids, new_tokens, temperature=0.8, seed=self.config.seed + i, sliding_window=True
            )
            out.append(tokenizer.decode(generated))
        return out


# --------------------------------------------------------------------------- entry point
def run(
    out_dir: str,
    *,
    resume: bool = False,
    overwrite: bool = False,
    echo: Callable[[str], None] | None = None,
    **flags: Any,
) -> TrainResult:
    """Train (or resume) the run in `out_dir`; print progress, samples and the final loss.

    `flags` are fields of `GPTConfig` and `TrainConfig` (None or left out: the preset's value,
    or the saved one on resume); see `tinytorch.train_config`.
    """
    echo = echo or (lambda line: tqdm.write(line, file=sys.stdout))
    started = time.perf_counter()
    model_flags, train_flags = _split_flags(flags)
    text = text_hash = None
    if train_flags.get("text") is not None:
        train_flags["text"] = os.path.abspath(train_flags["text"])
        text = read_training_text(train_flags["text"])  # once: a pipe cannot be read twice
        text_hash = text_sha256(text)
    if train_flags.get("init_from") is not None:
        train_flags["init_from"] = os.path.abspath(train_flags["init_from"])
    start = None
    if resume:
        run_dir = RunDirectory.resume(out_dir)
    else:
        model_config, train_config = new_run_configs(model_flags, train_flags, text_hash)
        if train_config.init_from is not None:  # the model and tokenizer are DIR's
            start, model_config, train_config = init_from(train_config, model_flags, train_flags)
        check_training_fits(model_config, train_config, saved_in=None)
        run_dir = RunDirectory.create(out_dir, overwrite=overwrite)
    with run_dir:
        if resume:
            saved = run_dir.read_config()
            model_config, train_config = resumed_run_configs(
                saved.model, saved.train, model_flags, train_flags, text_hash
            )
            check_training_fits(model_config, train_config, saved_in=run_dir.file(CONFIG_FILE))
            model = run_dir.build_model(saved)
            tokenizer = run_dir.read_tokenizer(saved)
            data = prepare_data(train_config, model_config.max_seq_len, tokenizer, text)
        else:
            tokenizer = None if start is None else start.tokenizer  # None: train one
            data = prepare_data(train_config, model_config.max_seq_len, tokenizer, text)
            model_config = replace(model_config, vocab_size=data.tokenizer.vocab_size)
            manual_seed(train_config.seed)
            model = GPT(model_config) if start is None else start.model
        trainer = Trainer(train_config, run_dir, data, model, echo, started)
        config = RunConfig(model=model_config, train=train_config)
        if resume:
            trainer.restore()
            if trainer.step >= train_config.steps and not budget_raised(saved.train, train_flags):
                more = "--time-budget" if train_config.time_budget else "--steps with"
                raise TrainingError(
                    f"the run in {out_dir} is already at step {trainer.step}; pass {more} a "
                    "larger number to train further"
                )
            run_dir.write_config(config)  # records a raised --steps or a moved --text
            echo(f"resuming {out_dir} at step {trainer.step} of {train_config.steps}")
        else:
            run_dir.write_config(config)
            run_dir.write_tokenizer(data.tokenizer)
            trainer.save_checkpoint()  # step 0: a good checkpoint exists even if step 1 diverges
        _describe(echo, model, config, data, time.perf_counter() - started)
        for line in describe_validation(config.train, data, trainer.eval_windows):
            echo(line)
        # One BLAS thread: with several, OpenBLAS splits a matrix product differently, so the
        # last bits of results depend on the thread count and a run or resume would only be
        # bit-exact on a machine with the same count. On a small shared machine a second BLAS
        # thread spin-waiting for a busy core also costs more than it gains (2 cores, tiny
        # preset step: ~150 ms with one thread, 125-150 ms with two when idle, 1000+ ms with
        # two under load).
        with threadpool_limits(limits=1, user_api="blas"):
            with sigint_sets_flag() as stop_requested:
                trainer.fit(stop_requested)
            samples = trainer.samples()
    for prompt, sample in zip(data.prompts, samples, strict=True):
        echo(f"--- sample (prompt {prompt!r}) ---\n{sample}")
    echo(
        f"final validation loss {trainer.last_val_loss:.4f} nats/token = "
        f"{trainer.last_val_bits:.3f} bits/char on all {data.held_out.num_targets:,} held-out "
        f"tokens ({comparisons(data)}); {trainer.step} steps, "
        f"{time.perf_counter() - started:.0f}s in all; checkpoint in {out_dir}"
    )
    return TrainResult(
        step=trainer.step,
        val_loss=trainer.last_val_loss,
        val_bits_per_char=trainer.last_val_bits,
        floor_bits_per_char=data.floor_bits_per_char,
        baseline_bits_per_char=data.baseline.bits_per_char,
        samples=samples,
    )


def _split_flags(flags: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Given flags (None dropped) as (model settings, training settings); unknown names fail."""
    model_names = set(GPTConfig.__dataclass_fields__)
    train_names = set(TrainConfig.__dataclass_fields__)
    given = {k: v for k, v in flags.items() if v is not None}
    unknown = sorted(set(given) - model_names - train_names)
    if unknown:
        raise TypeError(f"run() got unknown settings {unknown}")
    return (
        {k: v for k, v in given.items() if k in model_names},
        {k: v for k, v in given.items() if k in train_names},
    )


def _describe(
    echo: Callable[[str], None],
    model: GPT,
    config: RunConfig,
    data: TrainingData,
    setup_seconds: float,
) -> None:
    shape = config.model
    echo(
        f"model: {model.num_parameters() / 1e6:.2f}M parameters, {shape.num_layers} layers, "
        f"embed {shape.embed_dim}, block {shape.max_seq_len}, vocab {shape.vocab_size} "
        f"({config.tokenizer}, {shape.pos_encoding} positions); data: "
        f"{len(data.train_ids):,} train / {len(data.val_ids):,} val tokens; setup took "
        f"{setup_seconds:.1f}s"
    )
