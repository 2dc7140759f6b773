"""The training loop behind `tinytorch train`: data, model, AdamW, evaluation, checkpoints.

A run is a pure function of its arguments and seed: model initialisation draws from tinytorch's
generator, batches from a dedicated `np.random.default_rng(seed)`, evaluation uses a fixed slice
of the validation text, and BLAS runs on one thread (see `run`). Both generators'
states, the optimizer and the schedule go into every checkpoint, so a resumed run continues
bit-exactly where the interrupted one stopped.

Ctrl-C does not kill a step half-way: the first SIGINT only raises a flag, the loop finishes
the step, saves a checkpoint and raises `TrainingInterrupted`. A second Ctrl-C interrupts at once
(the checkpoint on disk stays intact thanks to atomic writes).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from tinytorch import checkpoint
from tinytorch.checkpoint import RunConfig
from tinytorch.core.autograd import no_grad
from tinytorch.core.optimizers import AdamW, WarmupCosineSchedule, clip_grad_norm_
from tinytorch.core.random import get_rng_state, manual_seed, set_rng_state
from tinytorch.data import generate_corpus, get_batch, load_text, sequential_batches
from tinytorch.models.transformer import GPT
from tinytorch.text.tokenization import BPETokenizer, CharTokenizer, Tokenizer


@dataclass(frozen=True)
class Preset:
    """Model shape and training budget; `tiny` fits in a few minutes on two CPU cores."""

    embed_dim: int
    num_layers: int
    num_heads: int
    block_size: int
    batch_size: int
    steps: int
    lr: float
    warmup_steps: int
    eval_interval: int
    eval_batches: int  # validation batches per evaluation (always the same ones)
    corpus_chars: int  # size of the built-in corpus
    bpe_vocab_size: int

    def build_model(self, vocab_size: int) -> GPT:
        """A freshly initialised GPT of this preset's shape (seed tinytorch's generator first)."""
        return GPT(
            vocab_size=vocab_size,
            embed_dim=self.embed_dim,
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            max_seq_len=self.block_size,
        )


PRESETS = {
    "tiny": Preset(
        embed_dim=128,
        num_layers=4,
        num_heads=4,
        block_size=64,
        batch_size=16,
        steps=1000,
        lr=3e-3,
        warmup_steps=50,
        eval_interval=250,
        eval_batches=8,
        corpus_chars=1_000_000,
        bpe_vocab_size=512,
    ),
    "small": Preset(
        embed_dim=256,
        num_layers=6,
        num_heads=8,
        block_size=128,
        batch_size=16,
        steps=2000,
        lr=1e-3,
        warmup_steps=100,
        eval_interval=250,
        eval_batches=16,
        corpus_chars=2_000_000,
        bpe_vocab_size=1024,
    ),
    # Seconds-long runs for tests and smoke checks; not meant to learn much.
    "test": Preset(
        embed_dim=32,
        num_layers=1,
        num_heads=2,
        block_size=16,
        batch_size=4,
        steps=6,
        lr=1e-2,
        warmup_steps=2,
        eval_interval=3,
        eval_batches=2,
        corpus_chars=20_000,
        bpe_vocab_size=300,
    ),
}

LOG_INTERVAL = 10
VAL_FRACTION = 0.1
SAMPLE_CHARS = 200


class TrainingError(Exception):
    """A run that cannot start or continue for a reason the user can fix (one-line message)."""


class TrainingInterrupted(Exception):
    """Ctrl-C: a checkpoint of the current step was saved; resume with `--resume`."""

    def __init__(self, step: int, out_dir: str) -> None:
        super().__init__(f"interrupted at step {step}; checkpoint saved in {out_dir}")
        self.step, self.out_dir = step, out_dir


@dataclass(frozen=True)
class TrainArgs:
    """Everything that determines a run (saved as config.json's "train" entry)."""

    preset: str
    text: str | None  # a text file, or None for the built-in story corpus
    text_sha256: str | None
    tokenizer: str
    steps: int
    batch_size: int
    lr: float
    seed: int
    eval_interval: int
    warmup_steps: int
    min_lr: float
    weight_decay: float
    grad_clip: float
    eval_batches: int
    corpus_chars: int
    bpe_vocab_size: int


@dataclass
class TrainResult:
    step: int
    val_loss: float
    val_bits_per_char: float
    floor_bits_per_char: float | None
    samples: list[str]


@dataclass(frozen=True)
class Data:
    train_ids: np.ndarray
    val_ids: np.ndarray
    tokenizer: Tokenizer
    val_batches: list[tuple[np.ndarray, np.ndarray]]  # the fixed evaluation slice
    val_chars: int  # characters covered by the targets of `val_batches`
    tokens_per_char: float  # of the training text, to put train loss in bits per character
    floor_bits_per_char: float | None  # entropy of the built-in corpus; None for user text
    prompts: list[str]


# ---------------------------------------------------------------------------- arguments
def resolve_args(
    *,
    preset: str | None = None,
    text: str | None = None,
    tokenizer: str | None = None,
    steps: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    seed: int | None = None,
    eval_interval: int | None = None,
    saved: dict[str, Any] | None = None,
) -> TrainArgs:
    """The run's arguments: a preset plus overrides, or (resume) the saved ones.

    On resume every given option must agree with the saved run, except `steps`, which may be
    raised to train further (the LR schedule then stretches to the new total).
    """
    _check_options(
        preset=preset,
        tokenizer=tokenizer,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        eval_interval=eval_interval,
    )
    given = {
        "preset": preset,
        "tokenizer": tokenizer,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "eval_interval": eval_interval,
    }
    if saved is not None:
        try:
            args = TrainArgs(**saved)
        except TypeError as e:
            raise TrainingError(f"config.json has unusable training arguments ({e})") from e
        for name, value in given.items():
            if value is not None and value != getattr(args, name):
                raise TrainingError(
                    f"cannot resume: the run was trained with --{name.replace('_', '-')} "
                    f"{getattr(args, name)}, not {value} (drop the option or use another --out)"
                )
        if text is not None and _sha256_of_text(text) != args.text_sha256:
            raise TrainingError(f"cannot resume: {text} is not the text this run was trained on")
        if steps is not None and steps < args.warmup_steps:
            raise TrainingError(
                f"cannot resume with --steps {steps}: the run warms up for {args.warmup_steps} "
                "steps"
            )
        return args if steps is None else dataclasses.replace(args, steps=steps)

    name = preset or "tiny"
    p = PRESETS[name]
    chosen_lr = p.lr if lr is None else lr
    chosen_steps = p.steps if steps is None else steps
    return TrainArgs(
        preset=name,
        text=None if text is None else os.path.abspath(text),
        text_sha256=None if text is None else _sha256_of_text(text),
        tokenizer=tokenizer or "char",
        steps=chosen_steps,
        batch_size=p.batch_size if batch_size is None else batch_size,
        lr=chosen_lr,
        seed=0 if seed is None else seed,
        eval_interval=p.eval_interval if eval_interval is None else eval_interval,
        warmup_steps=min(p.warmup_steps, chosen_steps),
        min_lr=chosen_lr * 0.1,
        weight_decay=0.1,
        grad_clip=1.0,
        eval_batches=p.eval_batches,
        corpus_chars=p.corpus_chars,
        bpe_vocab_size=p.bpe_vocab_size,
    )


def _sha256_of_text(path: str) -> str:
    return _sha256(_read_text(path))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_text(path: str) -> str:
    try:
        return load_text(path)
    except ValueError as e:  # undecodable or empty: the user's file, not a bug
        raise TrainingError(str(e)) from e


# --------------------------------------------------------------------------------- data
def prepare_data(args: TrainArgs, block_size: int, tokenizer: Tokenizer | None = None) -> Data:
    """Split the text, build (or reuse) the tokenizer, fix the evaluation slice."""
    if args.text is None:
        corpus = generate_corpus(args.corpus_chars, seed=0)
        train_text, val_text = corpus.split(VAL_FRACTION)
        floor: float | None = corpus.entropy_bits_per_char
    else:
        text = _read_text(args.text)
        if _sha256(text) != args.text_sha256:
            raise TrainingError(f"{args.text} changed since this run started; cannot resume")
        cut = int(len(text) * (1.0 - VAL_FRACTION))
        train_text, val_text = text[:cut], text[cut:]
        floor = None
    if tokenizer is None:
        if args.tokenizer == "bpe":
            tokenizer = BPETokenizer.train(train_text, args.bpe_vocab_size)
        else:  # the alphabet of the whole text, so validation has no unknown characters
            tokenizer = CharTokenizer.from_text(train_text + val_text)
    train_ids, val_ids = tokenizer.encode_array(train_text), tokenizer.encode_array(val_text)
    source = args.text or "the built-in corpus"
    parts = (
        ("training", f"first {1 - VAL_FRACTION:.0%}", train_ids),
        ("validation", f"last {VAL_FRACTION:.0%}", val_ids),
    )
    for part, where, ids in parts:
        if len(ids) <= block_size:
            raise TrainingError(
                f"{source} is too short: its {part} part (the {where}) has {len(ids)} tokens, "
                f"the {args.preset} preset needs more than {block_size}"
            )
    batches = sequential_batches(val_ids, block_size, args.batch_size)
    val_batches = list(itertools.islice(batches, args.eval_batches))
    val_chars = sum(len(tokenizer.decode(row)) for _, y in val_batches for row in y)
    return Data(
        train_ids=train_ids,
        val_ids=val_ids,
        tokenizer=tokenizer,
        val_batches=val_batches,
        val_chars=val_chars,
        tokens_per_char=len(train_ids) / len(train_text),
        floor_bits_per_char=floor,
        prompts=_sample_prompts(val_text),
    )


def _sample_prompts(text: str, count: int = 3) -> list[str]:
    """The first two words of the first few lines: natural places for a model to continue."""
    prompts: list[str] = []
    for line in text.splitlines():
        words = line.split(" ")[:2]
        prompt = " ".join(words).strip()
        if prompt and prompt not in prompts:
            prompts.append(prompt)
        if len(prompts) == count:
            break
    return prompts or [text[:8]]


# ------------------------------------------------------------------------------ the run
class Trainer:
    """One run: owns the model, optimizer, schedule, both random streams, and the run dir."""

    def __init__(
        self, args: TrainArgs, out_dir: str, data: Data, model: GPT, echo: Callable[[str], None]
    ) -> None:
        self.args, self.out_dir, self.data, self.model, self.echo = args, out_dir, data, model, echo
        self.block_size = model.config["max_seq_len"]
        decay = [p for p in model.parameters() if p.ndim >= 2]
        no_decay = [p for p in model.parameters() if p.ndim < 2]
        self.optimizer = AdamW(
            [
                {"params": decay, "weight_decay": args.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=args.lr,
            betas=(0.9, 0.95),
        )
        self.schedule = WarmupCosineSchedule(
            self.optimizer, args.warmup_steps, args.steps, min_lr=args.min_lr
        )
        self.data_rng = np.random.default_rng(args.seed)
        self.step = 0
        self.metrics: list[dict[str, Any]] = []
        self.best_val_loss: float | None = None
        self.last_val_loss: float | None = None
        self.last_val_bits: float | None = None
        self.loss_sum, self.loss_count = 0.0, 0  # train loss since the last metrics record
        self.last_checkpoint_step: int | None = None  # None until a checkpoint is complete

    # ------------------------------------------------------------------ state on disk
    def trainer_state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "best_val_loss": self.best_val_loss,
            "last_val_loss": self.last_val_loss,
            "last_val_bits_per_char": self.last_val_bits,
            "loss_sum": self.loss_sum,
            "loss_count": self.loss_count,
            "schedule": self.schedule.state_dict(),
            "tinytorch_rng": get_rng_state(),
            "data_rng": self.data_rng.bit_generator.state,
        }

    def save_checkpoint(self) -> None:
        """Metrics, then the training state (its trainer_state.json commits it), then the plot.

        Metrics go first: if the commit then fails, a resume drops the records past the last
        checkpoint; written after the commit, a failed metrics write would lose records for good.
        """
        with self._stop_on_write_error():
            checkpoint.save_metrics(self.out_dir, self.metrics)
            checkpoint.save_training_state(
                self.out_dir, self.model, self.optimizer.state_dict(), self.trainer_state()
            )
            self.last_checkpoint_step = self.step
            checkpoint.save_loss_plot(
                self.out_dir, self.metrics, self.data.tokens_per_char, self.data.floor_bits_per_char
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
                f"{self.out_dir} is intact"
            )
            raise TrainingError(
                f"could not write the run's files at step {self.step} ({reason}); stopped, and "
                f"{kept}"
            ) from e

    def restore(self) -> None:
        """Continue from the checkpoint in `out_dir` (weights were validated against config)."""
        optimizer_state, state = checkpoint.load_training_state(self.out_dir, self.model)
        path = os.path.join(self.out_dir, checkpoint.TRAINER_STATE_FILE)
        _check_trainer_state(state, path)
        try:
            self.optimizer.load_state_dict(optimizer_state)
            # The schedule was built with this run's total (--steps may have raised it).
            self.schedule.load_state_dict(state["schedule"])
            set_rng_state(state["tinytorch_rng"])
            self.data_rng.bit_generator.state = state["data_rng"]
            self.step = state["step"]
            self.best_val_loss, self.last_val_loss = state["best_val_loss"], state["last_val_loss"]
            self.last_val_bits = state["last_val_bits_per_char"]
            self.loss_sum, self.loss_count = state["loss_sum"], state["loss_count"]
        except (KeyError, TypeError, ValueError) as e:
            raise checkpoint.CheckpointError(f"{path}: unusable trainer state ({e!r})") from e
        # Records logged after the checkpoint belong to steps that will be trained again.
        self.metrics = [r for r in checkpoint.load_metrics(self.out_dir) if r["step"] <= self.step]
        self.last_checkpoint_step = self.step

    # ------------------------------------------------------------------------- steps
    def train_step(self) -> float:
        """One optimizer step on a random batch; returns the batch loss (before the update)."""
        x, y = get_batch(self.data.train_ids, self.block_size, self.args.batch_size, self.data_rng)
        _, loss = self.model(x, y)
        value = loss.item()
        if not math.isfinite(value):
            self._diverged(f"the loss is {value}")
        self.optimizer.zero_grad()
        loss.backward()
        norm = clip_grad_norm_(self.model.parameters(), self.args.grad_clip)
        if not math.isfinite(norm):
            self._diverged(f"the gradient norm is {norm}")
        self.optimizer.step()
        self.schedule.step()
        self.step += 1
        return value

    def _diverged(self, what: str) -> None:
        raise TrainingError(
            f"training diverged at step {self.step + 1}: {what}; stopped. The last good "
            f"checkpoint (step {self.last_checkpoint_step}) is in {self.out_dir} "
            "(try a lower --lr)"
        )

    @no_grad()
    def evaluate(self) -> tuple[float, float]:
        """(mean loss per token, bits per character) on the fixed validation slice."""
        self.model.eval()
        total_nats, tokens = 0.0, 0
        for x, y in self.data.val_batches:
            _, loss = self.model(x, y)
            total_nats += loss.item() * y.size
            tokens += y.size
        self.model.train()
        return total_nats / tokens, total_nats / math.log(2) / self.data.val_chars

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
        args, tokens_per_step = self.args, self.args.batch_size * self.block_size
        bar = tqdm(
            total=args.steps,
            initial=self.step,
            file=sys.stderr,
            unit="step",
            dynamic_ncols=True,
            leave=False,
            disable=None,  # no bar when stderr is not a terminal (logs, pipes, tests)
        )
        try:
            clock, clock_step = time.perf_counter(), self.step
            while self.step < args.steps:
                lr = float(self.optimizer.param_groups[0]["lr"])
                loss = self.train_step()
                self.loss_sum += loss
                self.loss_count += 1
                bar.update(1)
                now = time.perf_counter()
                speed = tokens_per_step * (self.step - clock_step) / max(now - clock, 1e-9)
                bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{speed:,.0f}", refresh=False)
                evaluate = self.step % args.eval_interval == 0 or self.step == args.steps
                if evaluate or self.step % LOG_INTERVAL == 0:
                    record = self.log(lr, speed)
                    if evaluate:
                        self._evaluate_and_save(record)
                    else:
                        with self._stop_on_write_error():
                            checkpoint.save_metrics(self.out_dir, self.metrics)
                    clock, clock_step = time.perf_counter(), self.step  # speed excludes this
                if stop_requested() and self.step < args.steps:  # else the run is complete
                    if self.last_checkpoint_step != self.step:
                        self.save_checkpoint()
                    raise TrainingInterrupted(self.step, self.out_dir)
        finally:
            bar.close()

    def _evaluate_and_save(self, record: dict[str, Any]) -> None:
        val_loss, bits = self.evaluate()
        record.update(val_loss=val_loss, val_bits_per_char=bits)
        self.last_val_loss, self.last_val_bits = val_loss, bits
        if self.best_val_loss is None or val_loss < self.best_val_loss:
            self.best_val_loss = val_loss
        floor = self.data.floor_bits_per_char
        self.echo(
            f"step {self.step:>6}/{self.args.steps}: train loss {record['train_loss']:.4f}  "
            f"val loss {val_loss:.4f}  val {bits:.3f} bits/char"
            + (f"  (corpus floor {floor:.3f})" if floor is not None else "")
        )
        self.save_checkpoint()

    def samples(self, max_chars: int = SAMPLE_CHARS) -> list[str]:
        """Seeded continuations of the sample prompts (text is deterministic for a seed)."""
        tokenizer, out = self.data.tokenizer, []
        new_tokens = max(1, round(max_chars * self.data.tokens_per_char))
        for i, prompt in enumerate(self.data.prompts):
            ids = tokenizer.encode_array(prompt)
            generated = self.model.generate(  # runs in eval mode, then restores the mode
                ids, new_tokens, temperature=0.8, seed=self.args.seed + i, sliding_window=True
            )
            out.append(tokenizer.decode(generated))
        return out


def _check_trainer_state(state: dict[str, Any], path: str) -> None:
    """The counters of a trainer state to resume from, checked by name before any is used.

    The hashes vouch for the weight files, not for trainer_state.json itself: a damaged or
    hand-edited one must fail here, not as a TypeError mid-run or a run resumed at step -4.
    """

    def count(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    def number_or_none(value: Any) -> bool:
        return value is None or number(value)

    rules = {
        "step": (count, "an integer >= 0"),
        "loss_count": (count, "an integer >= 0"),
        "loss_sum": (number, "a number"),
        "best_val_loss": (number_or_none, "a number or null"),
        "last_val_loss": (number_or_none, "a number or null"),
        "last_val_bits_per_char": (number_or_none, "a number or null"),
    }
    for key, (valid, allowed) in rules.items():
        if key not in state:
            raise checkpoint.CheckpointError(f"{path}: {key!r} is missing")
        if not valid(state[key]):
            raise checkpoint.CheckpointError(
                f"{path}: {key!r} must be {allowed}, got {state[key]!r}"
            )


@contextmanager
def _sigint_sets_flag() -> Iterator[Callable[[], bool]]:
    """First Ctrl-C asks the loop to stop after the current step; a second one interrupts."""
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested.is_set
        return

    def handler(signum: int, frame: Any) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield requested.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


# --------------------------------------------------------------------------- entry point
def run(
    out_dir: str, *, resume: bool = False, echo: Callable[[str], None] | None = None, **options: Any
) -> TrainResult:
    """Train (or resume) the run in `out_dir`; print progress, samples and the final loss.

    `options` are `resolve_args`'s (None = preset default, or the saved value on resume).
    """
    echo = echo or (lambda line: tqdm.write(line, file=sys.stdout))
    started = time.perf_counter()
    if resume:
        saved = checkpoint.load_config(out_dir)
        args = resolve_args(**options, saved=saved.train)
        model = checkpoint.build_model(saved, out_dir)
        tokenizer = checkpoint.load_tokenizer(out_dir, saved, model.config["vocab_size"])
        data = prepare_data(args, model.config["max_seq_len"], tokenizer)
    else:
        args = resolve_args(**options)
        preset = PRESETS[args.preset]
        data = prepare_data(args, preset.block_size)
        manual_seed(args.seed)
        model = preset.build_model(data.tokenizer.vocab_size)
    trainer = Trainer(args, out_dir, data, model, echo)
    config = RunConfig(model=model.config, train=dataclasses.asdict(args), tokenizer=args.tokenizer)
    if resume:
        trainer.restore()
        if trainer.step >= args.steps:
            raise TrainingError(
                f"the run in {out_dir} is already at step {trainer.step}; pass --steps with a "
                "larger number to train further"
            )
        checkpoint.save_config(out_dir, config)  # records a raised --steps
        echo(f"resuming {out_dir} at step {trainer.step} of {args.steps}")
    else:
        os.makedirs(out_dir, exist_ok=True)
        for name in checkpoint.CHECKPOINT_FILES:  # a fresh run replaces an old one entirely
            path = os.path.join(out_dir, name)
            if os.path.exists(path):
                os.remove(path)
        checkpoint.save_config(out_dir, config)
        checkpoint.save_tokenizer(out_dir, data.tokenizer)
        trainer.save_checkpoint()  # step 0: a good checkpoint exists even if step 1 diverges
    cfg = model.config
    echo(
        f"model: {model.num_parameters() / 1e6:.2f}M parameters, {cfg['num_layers']} layers, "
        f"embed {cfg['embed_dim']}, block {cfg['max_seq_len']}, vocab {cfg['vocab_size']} "
        f"({args.tokenizer}); data: {len(data.train_ids):,} train / {len(data.val_ids):,} val "
        f"tokens; setup took {time.perf_counter() - started:.1f}s"
    )
    # One BLAS thread: with several, OpenBLAS splits a matrix product differently, so the last
    # bits of results depend on the thread count and a run or resume would only be bit-exact on
    # a machine with the same count. On a small shared machine a second BLAS thread spin-waiting
    # for a busy core also costs more than it gains (2 cores, tiny preset step: ~150 ms with one
    # thread, 125-150 ms with two when idle, 1000+ ms with two under load).
    with threadpool_limits(limits=1, user_api="blas"):
        with _sigint_sets_flag() as stop_requested:
            trainer.fit(stop_requested)
        samples = trainer.samples()
    for prompt, sample in zip(data.prompts, samples, strict=True):
        echo(f"--- sample (prompt {prompt!r}) ---\n{sample}")
    floor = data.floor_bits_per_char
    echo(
        f"final validation loss {trainer.last_val_loss:.4f} nats/token = "
        f"{trainer.last_val_bits:.3f} bits/char"
        + (f" (corpus entropy floor {floor:.3f} bits/char)" if floor is not None else "")
        + f"; {time.perf_counter() - started:.0f}s in all; checkpoint in {out_dir}"
    )
    return TrainResult(
        step=trainer.step,
        val_loss=trainer.last_val_loss,
        val_bits_per_char=trainer.last_val_bits,
        floor_bits_per_char=floor,
        samples=samples,
    )


def _check_options(
    *, preset: str | None, tokenizer: str | None, lr: float | None, **counts: int | None
) -> None:
    """Reject bad option values up front, naming the option and what is allowed."""
    if preset is not None and preset not in PRESETS:
        raise TrainingError(f"unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
    if tokenizer is not None and tokenizer not in checkpoint.TOKENIZER_KINDS:
        raise TrainingError(
            f"unknown tokenizer {tokenizer!r} (choose from {', '.join(checkpoint.TOKENIZER_KINDS)})"
        )
    if lr is not None and not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise TrainingError(f"--lr must be a positive number, got {lr!r}")
    for name, value in counts.items():
        smallest = 0 if name == "seed" else 1
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < smallest
        ):
            raise TrainingError(
                f"--{name.replace('_', '-')} must be an integer >= {smallest}, got {value!r}"
            )
