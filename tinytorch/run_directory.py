"""A training run on disk, and the one object that reads and writes its files.

Layout of a run directory::

    config.json           {"format": "tinytorch.checkpoint", "version": 1, "model": GPTConfig,
                           "train": TrainConfig, "tokenizer": "char" | "bpe"}
    tokenizer.json        the tokenizer's own versioned JSON
    model.safetensors     the model's state_dict() (tied weights under every name, like PyTorch)
    optimizer.safetensors the optimizer's arrays; its scalars live in trainer_state.json
    trainer_state.json    step, losses, optimizer scalars, schedule, both RNG states, the
                          sha256 of the two .safetensors files it belongs with and of the
                          tokenizer, and how many metrics records it covers
    metrics.jsonl         one JSON object per logged step
    loss.png              train / validation curves
    *.safetensors.next    new weight files while a checkpoint is being committed (transient)
    .tinytorch.lock       held (flock) by the one process writing the run

Why it looks like this: safetensors and JSON cannot execute code when loaded (no pickle). Each
file is replaced atomically, so a crash leaves the old or the new version of a file, never half
of one. A checkpoint spans several files, so it is committed in two phases (`commit_checkpoint`):
a crash or a full disk at any moment leaves one complete checkpoint, the new one or the previous
one, and a resume continues from it. Only one process writes a run at a time: `create` and
`resume` take an OS lock on the directory that dies with its holder, so a killed run never
blocks the next one. A directory holding files tinytorch did not write is never modified.
Everything read back is checked before it is used (the safetensors header before its data, see
checkpoint_tensors; trainer_state.json key by key, see trainer_state_checks; metrics.jsonl line
by line, see metrics_file), and damage is reported as `<file>: <key>: <what is wrong>`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import safetensors.numpy

from tinytorch.checkpoint_error import CheckpointError
from tinytorch.checkpoint_tensors import Expected, read_checked_tensors
from tinytorch.core.module import Module
from tinytorch.core.optimizers import Optimizer
from tinytorch.core.random import uninitialized
from tinytorch.core.schedules import LRSchedule
from tinytorch.files import atomic_write_bytes, file_sha256, read_bytes, read_json
from tinytorch.memory_budget import check_model_fits
from tinytorch.metrics_file import read_metrics
from tinytorch.models.gpt_config import SMALL_MODEL_BYTES, GPTConfig
from tinytorch.models.transformer import GPT
from tinytorch.run_lock import LOCK_FILE, RunLock
from tinytorch.settings import SettingError
from tinytorch.state_tree import decode_tree, encode_tree
from tinytorch.text.tokenization import BPETokenizer, CharTokenizer, Tokenizer
from tinytorch.train_config import TrainConfig
from tinytorch.trainer_state_checks import METRICS_RECORDS, check_hashes, check_trainer_state

FORMAT = "tinytorch.checkpoint"
VERSION = 1
TRAINER_STATE_FORMAT = "tinytorch.trainer_state"
TOKENIZER_CLASSES: dict[str, type[Tokenizer]] = {"char": CharTokenizer, "bpe": BPETokenizer}

CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
TRAINER_STATE_FILE = "trainer_state.json"
METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "loss.png"
STAGED_SUFFIX = ".next"  # weight files of a checkpoint that is not committed yet
WEIGHT_FILES = (MODEL_FILE, OPTIMIZER_FILE)
RUN_FILES = (
    CONFIG_FILE,
    TOKENIZER_FILE,
    *WEIGHT_FILES,
    *(name + STAGED_SUFFIX for name in WEIGHT_FILES),
    TRAINER_STATE_FILE,
    METRICS_FILE,
    PLOT_FILE,
)
# What atomic_write_bytes leaves behind when a process dies mid-writing one of our files.
_ORPHANED_TEMP = re.compile(
    r"^\.(" + "|".join(re.escape(name) for name in RUN_FILES) + r")\.[0-9a-f]{12}\.tmp$"
)
MIN_BYTES_PER_WEIGHT = 2  # float16 and bfloat16 weights load too (as float32)
JSON_LIMIT = 64 * 2**20  # config, trainer state, tokenizer: a few kB to a few MB in practice


@dataclass(frozen=True)
class RunConfig:
    """What config.json holds: how to rebuild the model and how it was trained."""

    model: GPTConfig
    train: TrainConfig

    @property
    def tokenizer(self) -> str:
        return self.train.tokenizer


class RunDirectory:
    """The files of one run. Read with `RunDirectory(path)`; write through `create`/`resume`,
    which hold the run's lock until `close` (or the end of a `with` block)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._run_lock: RunLock | None = None
        self._tokenizer_sha256: str | None = None  # of the tokenizer.json read or written
        self._metrics_records: int | None = None  # logged records the checkpoint vouches for

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    # ------------------------------------------------------------------ opening, locking
    @classmethod
    def create(cls, path: str | os.PathLike[str], *, overwrite: bool = False) -> RunDirectory:
        """A run directory for a new run: empty or new, or (with `overwrite`) an old run's.

        Refuses, touching nothing, a directory that holds files: a run (continue it with
        --resume, or replace its files with --overwrite) or files tinytorch did not write (never
        modified, whatever the options; not even a lock file is added).
        """
        run = cls(path)
        if not run.path:
            raise CheckpointError("the run directory must not be empty ('' is not a path)")
        if os.path.exists(run.path) and not os.path.isdir(run.path):
            raise CheckpointError(f"{run.path}: exists and is not a directory")
        if os.path.isdir(run.path):
            run._refuse_foreign_files()
        os.makedirs(run.path, exist_ok=True)
        run._lock()
        with _closing_on_error(run):
            run._refuse_foreign_files()  # again, now that no other tinytorch can write here
            present = run._present_files()
            if present and not overwrite:
                raise CheckpointError(
                    f"{run.path}: already holds a training run ({listed(present)}); continue "
                    "it with --resume, or replace it with --overwrite"
                )
            # config.json marks the directory as a run: removed last, so an interrupted
            # overwrite leaves a run that --overwrite can replace, not files we would refuse.
            # A user's own notes beside the run stay.
            for name in sorted(set(present) & set(RUN_FILES), key=lambda n: n == CONFIG_FILE):
                os.remove(run.file(name))
            run._remove_orphaned_temp_files()
        return run

    @classmethod
    def resume(cls, path: str | os.PathLike[str]) -> RunDirectory:
        """The run directory of a run to continue, locked, with leftovers of a crash settled."""
        run = cls(path)
        if not run._holds_a_run():
            run.read_config()  # says what is wrong; a foreign directory gets no lock file
        run._lock()
        with _closing_on_error(run):
            run._remove_orphaned_temp_files()
        return run

    def _refuse_foreign_files(self) -> None:
        """A directory with files but no tinytorch run in it is someone else's: refuse it."""
        present = self._present_files()
        if present and not self._holds_a_run():
            raise CheckpointError(
                f"{self.path}: holds files tinytorch did not write ({listed(present)}); "
                "tinytorch never modifies them: choose an empty or new --out"
            )

    def _check_exists(self) -> None:
        if not os.path.isdir(self.path):
            raise CheckpointError(f"{self.path}: no such run directory")

    def _lock(self) -> None:
        self._run_lock = RunLock.acquire(self.path)

    def close(self) -> None:
        """Release the lock (see run_lock)."""
        if self._run_lock is not None:
            self._run_lock.release()
            self._run_lock = None

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _present_files(self) -> list[str]:
        return sorted(
            name
            for name in os.listdir(self.path)
            if name != LOCK_FILE and not _ORPHANED_TEMP.match(name)
        )

    def _holds_a_run(self) -> bool:
        if not os.path.isfile(self.file(CONFIG_FILE)):
            return False
        try:
            data = read_json(self.file(CONFIG_FILE), limit=JSON_LIMIT)
        except (OSError, ValueError):
            return False
        return isinstance(data, dict) and data.get("format") == FORMAT

    def _remove_orphaned_temp_files(self) -> None:
        for name in os.listdir(self.path):
            if _ORPHANED_TEMP.match(name):
                os.remove(self.file(name))

    # ------------------------------------------------------------------------- config
    def write_config(self, config: RunConfig) -> None:
        payload = {
            "format": FORMAT,
            "version": VERSION,
            "model": config.model.to_dict(),
            "train": config.train.to_dict(),
            "tokenizer": config.tokenizer,
        }
        atomic_write_bytes(self.file(CONFIG_FILE), _json_bytes(payload))

    def read_config(self) -> RunConfig:
        self._check_exists()
        path = self.file(CONFIG_FILE)
        data = self._read_json(CONFIG_FILE, "no checkpoint in this directory?")
        _check_header(data, path, FORMAT)
        sections = {}
        for section, kind in (("model", GPTConfig), ("train", TrainConfig)):
            try:
                sections[section] = kind.from_dict(data.get(section))
            except SettingError as e:
                raise CheckpointError(f"{path}: {section}.{e.key}: {e.problem}") from None
        config = RunConfig(**sections)
        if data.get("tokenizer", config.tokenizer) != config.tokenizer:
            raise CheckpointError(
                f"{path}: tokenizer: {data['tokenizer']!r} disagrees with train.tokenizer "
                f"{config.tokenizer!r}"
            )
        return config

    # ---------------------------------------------------------------------- tokenizer
    def write_tokenizer(self, tokenizer: Tokenizer) -> None:
        tokenizer.save(self.file(TOKENIZER_FILE))  # atomic: tokenizers write that way
        self._tokenizer_sha256 = file_sha256(self.file(TOKENIZER_FILE))

    def read_tokenizer(self, config: RunConfig) -> Tokenizer:
        """The run's tokenizer; its sha256 is kept for the checkpoint's integrity record."""
        path = self.file(TOKENIZER_FILE)
        if not os.path.isfile(path):
            raise CheckpointError(f"{path}: missing (the run's tokenizer)")
        try:  # loading as the configured class also rejects a tokenizer of the other kind
            raw = read_bytes(path, limit=JSON_LIMIT)
            tokenizer = TOKENIZER_CLASSES[config.tokenizer].from_bytes(raw, path)
        except ValueError as e:
            raise CheckpointError(f"{e} (config.json says tokenizer {config.tokenizer!r})") from e
        self._tokenizer_sha256 = hashlib.sha256(raw).hexdigest()
        if tokenizer.vocab_size != config.model.vocab_size:
            raise CheckpointError(
                f"{path}: vocabulary of {tokenizer.vocab_size} tokens, but the model has "
                f"vocab_size={config.model.vocab_size}"
            )
        return tokenizer

    # ------------------------------------------------------------------------- model
    def build_model(self, config: RunConfig) -> GPT:
        """A GPT of the configured shape for `read_weights` to fill (built without drawing the
        weights it overwrites, as the other loaders do), refused before allocating if the config
        declares a model that the weight file cannot hold."""
        self._check_declared_size(config.model)
        check_model_fits(config.model, self.file(CONFIG_FILE))
        try:
            with uninitialized():
                return GPT(config.model)
        except MemoryError:
            raise CheckpointError(
                f"{self.file(CONFIG_FILE)}: the configured model does not fit in memory"
            ) from None

    def _check_declared_size(self, model: GPTConfig) -> None:
        """config.json's sizes decide how much memory building the model allocates, so they are
        checked against the weight file (every parameter is stored there) first. A small model
        is cheap to build, and the per-tensor check that follows then names the tensor whose
        shape differs, which says more than a byte count."""
        count = model.parameter_count()
        weights = self.file(MODEL_FILE)
        if count * 4 <= SMALL_MODEL_BYTES or not os.path.isfile(weights):
            return  # a missing file is reported by the steps that follow
        size = os.path.getsize(weights)
        if count * MIN_BYTES_PER_WEIGHT > size:
            raise CheckpointError(
                f"{self.file(CONFIG_FILE)}: declares a model of {count:,} parameters (at least "
                f"{count * MIN_BYTES_PER_WEIGHT:,} bytes as float16), but {MODEL_FILE} holds only "
                f"{size:,} bytes"
            )

    def read_weights(self, model: Module) -> str:
        """Load model.safetensors into `model`, checking every name, shape and value before
        loading (float16 and bfloat16 weights load as float32); return its sha256."""
        expected = Expected(
            {name: (value.shape, value.dtype) for name, value in model.state_dict().items()},
            origin=CONFIG_FILE,
            stray="not in the config's model",
        )
        tensors, sha = self._read_tensors(MODEL_FILE, "the model weights", expected)
        model.load_state_dict(tensors)
        return sha

    def load_model(self) -> tuple[GPT, Tokenizer, RunConfig]:
        """Everything `generate` needs: the trained model, its tokenizer and the run's config."""
        config = self.read_config()
        model = self.build_model(config)
        self.read_weights(model)
        return model, self.read_tokenizer(config), config

    # ------------------------------------------------------------------- checkpoints
    def commit_checkpoint(
        self,
        model: Module,
        optimizer_state: Mapping[str, Any],
        trainer_state: Mapping[str, Any],
        metrics: Sequence[Mapping[str, Any]],
    ) -> None:
        """Write a checkpoint so that a crash at any moment leaves a complete one behind.

        Metrics go first: if the commit then fails, a resume drops the records past the last
        checkpoint; written after it, a failed metrics write would lose records for good.
        Phase 1 writes the new weight and optimizer files under staged names (`*.next`),
        leaving the previous checkpoint's files untouched. Replacing trainer_state.json, which
        records the staged files' hashes, commits the checkpoint. Phase 2 renames the staged
        files into place; if a crash interrupts it, `read_training_state` finishes the renames
        (and discards staged files of a checkpoint that was never committed).
        """
        self.write_metrics(metrics)
        arrays: dict[str, np.ndarray] = {}
        optimizer_tree = encode_tree(optimizer_state, "optimizer", arrays)
        contents = {
            MODEL_FILE: safetensors.numpy.save(model.state_dict()),
            OPTIMIZER_FILE: safetensors.numpy.save(arrays),
        }
        for name, data in contents.items():
            atomic_write_bytes(self.file(name + STAGED_SUFFIX), data)
        hashes = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
        hashes[TOKENIZER_FILE] = self._tokenizer_digest()
        payload = {
            "format": TRAINER_STATE_FORMAT,
            "version": VERSION,
            "sha256": hashes,
            METRICS_RECORDS: len(metrics),  # so a resume notices records lost from the log
            "optimizer": optimizer_tree,
            **trainer_state,
        }
        atomic_write_bytes(self.file(TRAINER_STATE_FILE), _json_bytes(payload))
        for name in contents:
            os.replace(self.file(name + STAGED_SUFFIX), self.file(name))

    def read_training_state(
        self, model: Module, optimizer: Optimizer, schedule: LRSchedule
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Load the weights into `model` and return (optimizer state, trainer state), both
        checked against the live `optimizer` and `schedule` (see trainer_state_checks).

        First settles a checkpoint write that a crash interrupted (`_finish_commit`), then
        refuses weight, optimizer and tokenizer files other than the ones trainer_state.json
        vouches for. Runs saved before the tokenizer was vouched for resume without that check.
        """
        state_path = self.file(TRAINER_STATE_FILE)
        state = self._read_json(TRAINER_STATE_FILE, "nothing to resume: no completed checkpoint")
        _check_header(state, state_path, TRAINER_STATE_FORMAT)
        hashes = state.pop("sha256", None)
        check_hashes(hashes, WEIGHT_FILES, TOKENIZER_FILE, state_path)
        self._finish_commit(hashes)
        del state["format"], state["version"]
        model_sha = self.read_weights(model)
        array_specs = check_trainer_state(state, optimizer, schedule, state_path)
        self._metrics_records = state.pop(METRICS_RECORDS, None)
        arrays, optimizer_sha = self._read_tensors(
            OPTIMIZER_FILE,
            "the optimizer state",
            Expected(array_specs, TRAINER_STATE_FILE, f"{TRAINER_STATE_FILE} does not refer to it"),
        )
        found = {MODEL_FILE: model_sha, OPTIMIZER_FILE: optimizer_sha}
        if TOKENIZER_FILE in hashes:
            found[TOKENIZER_FILE] = self._tokenizer_digest()
        for name, sha in found.items():
            if hashes[name] != sha:
                raise CheckpointError(
                    f"{self.file(name)}: does not belong to {TRAINER_STATE_FILE} (changed, or "
                    "copied from another checkpoint); cannot resume bit-exactly"
                )
        optimizer_state = decode_tree(state.pop("optimizer"), arrays, self.file(OPTIMIZER_FILE))
        return optimizer_state, state

    def _finish_commit(self, hashes: Mapping[str, Any]) -> None:
        """Settle staged weight files left by a crash during `commit_checkpoint`.

        A staged file that trainer_state.json vouches for belongs to a committed checkpoint
        whose renames did not finish: move it into place. Any other staged file is from a
        checkpoint that was never committed: the previous one stands, so it is dropped.
        """
        for name in WEIGHT_FILES:
            staged = self.file(name + STAGED_SUFFIX)
            if not os.path.isfile(staged):
                continue
            if file_sha256(staged) == hashes[name]:
                os.replace(staged, self.file(name))
            else:
                os.remove(staged)

    # ------------------------------------------------------------------ metrics, plot
    def write_metrics(self, records: Sequence[Mapping[str, Any]]) -> None:
        lines = "".join(json.dumps(r) + "\n" for r in records)
        atomic_write_bytes(self.file(METRICS_FILE), lines.encode("utf-8"))

    def read_metrics(self, up_to_step: int) -> list[dict[str, Any]]:
        """The logged records up to a checkpoint's step (for a resume: later ones belong to
        steps that will be trained again), as many as the checkpoint recorded."""
        path = self.file(METRICS_FILE)
        kept = [r for r in read_metrics(path) if r["step"] <= up_to_step]
        if self._metrics_records not in (None, len(kept)):
            raise CheckpointError(
                f"{path}: holds {len(kept)} records up to step {up_to_step}, but "
                f"{TRAINER_STATE_FILE} recorded {self._metrics_records} (lines lost or added)"
            )
        return kept

    def write_plot(self, png: bytes) -> None:
        atomic_write_bytes(self.file(PLOT_FILE), png)

    # ------------------------------------------------------------------------ reading
    def _read_json(self, name: str, what: str) -> Any:
        path = self.file(name)
        if os.path.exists(path) and not os.path.isfile(path):  # opening a FIFO would block
            raise CheckpointError(f"{path}: not a regular file ({what})")
        try:
            return read_json(path, limit=JSON_LIMIT)
        except FileNotFoundError:
            raise CheckpointError(f"{path}: missing ({what})") from None
        except ValueError as e:
            raise CheckpointError(str(e)) from None

    def _read_tensors(
        self, name: str, what: str, expected: Expected
    ) -> tuple[dict[str, np.ndarray], str]:
        """Tensors of a safetensors file, header checked first (see checkpoint_tensors), and
        its sha256; never unpickles anything."""
        try:
            return read_checked_tensors(self.file(name), expected)
        except FileNotFoundError:
            raise CheckpointError(f"{self.file(name)}: missing ({what})") from None

    def _tokenizer_digest(self) -> str:
        if self._tokenizer_sha256 is None:
            self._tokenizer_sha256 = file_sha256(self.file(TOKENIZER_FILE))
        return self._tokenizer_sha256


def load_run(path: str | os.PathLike[str]) -> tuple[GPT, Tokenizer, RunConfig]:
    """The trained model, tokenizer and config of the run in `path` (read-only, no lock)."""
    return RunDirectory(path).load_model()


@contextlib.contextmanager
def _closing_on_error(run: RunDirectory) -> Iterator[RunDirectory]:
    try:
        yield run
    except BaseException:
        run.close()
        raise


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1) + "\n").encode("utf-8")


def _check_header(data: Any, path: str, expected_format: str) -> None:
    if not isinstance(data, dict) or data.get("format") != expected_format:
        raise CheckpointError(f"{path}: not a {expected_format} file (no format field)")
    if data.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: unsupported version {data.get('version')!r} (this tinytorch reads {VERSION})"
        )


def listed(names: Sequence[str], most: int = 5) -> str:
    """The first `most` names, and how many more: a folder's files in a one-line message."""
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")
