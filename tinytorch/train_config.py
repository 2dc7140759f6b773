"""`TrainConfig` (how a run trains), the presets, and how a run's two configs are decided.

A run is decided by a `GPTConfig` (the model) and a `TrainConfig` (data, optimizer, schedule,
evaluation). A preset is a named set of values for both; flags given on the command line win over
the preset. On `--resume` the saved configs decide, and a flag may only repeat what was saved,
with the exceptions in `CHANGEABLE_ON_RESUME`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tinytorch.models.gpt_config import GPTConfig
from tinytorch.settings import SettingError, Settings, flag_name, setting

# Held-out targets a periodic evaluation scores: enough that the sample is within 0.02 bits/char
# of scoring the whole held-out split. Measured with trained GPTs (char level, block 64): within
# 0.005 on the built-in corpus and on Python's documentation; 16,384 missed by 0.021 on the corpus
# (tests/cli/test_evaluation.py checks it with an n-gram model of each text).
EVAL_TOKENS = 32_768
PRESETS: dict[str, dict[str, Any]] = {
    # About 3 minutes on two CPU cores: the default. A byte-pair tokenizer of 1024 tokens (3.8
    # characters per token on the built-in corpus) lets the same steps read 3.8 times the text
    # and see 490 characters of context; measured against the earlier char-level recipe (block
    # 64, batch 16, 1000 steps: 0.640 bits/char on all held-out tokens) in the README.
    "tiny": dict(embed_dim=128, num_layers=4, num_heads=4, max_seq_len=128, batch_size=8,
                 steps=1200, lr=3e-3, warmup_steps=50, eval_interval=250, eval_tokens=EVAL_TOKENS,
                 corpus_chars=1_000_000, tokenizer="bpe", bpe_vocab_size=1024),
    # About an hour.
    "small": dict(embed_dim=256, num_layers=6, num_heads=8, max_seq_len=128, batch_size=16,
                  steps=2000, lr=1e-3, warmup_steps=100, eval_interval=250, eval_tokens=EVAL_TOKENS,
                  corpus_chars=2_000_000, bpe_vocab_size=1024),
    # Seconds-long runs for tests and smoke checks; not meant to learn much.
    "test": dict(embed_dim=32, num_layers=1, num_heads=2, max_seq_len=16, batch_size=4,
                 steps=6, lr=1e-2, warmup_steps=2, eval_interval=3, eval_tokens=512,
                 corpus_chars=20_000, bpe_vocab_size=300),
}
TOKENIZER_KINDS = ("char", "bpe")
# A resumed run may train for more steps or minutes (its schedule stretches to the new total) and
# read its text from a new path holding the same content (checked by hash).
CHANGEABLE_ON_RESUME = ("steps", "text", "time_budget")
# config.json keys that runs saved by earlier versions hold, dropped on reading: eval_batches (a
# fixed slice at the start of the held-out text) gave way to eval_tokens, which takes its default.
RETIRED_SETTINGS = ("eval_batches",)


@dataclass(frozen=True)
class TrainConfig(Settings):
    """Everything about a run except the model's shape (saved as config.json's "train")."""

    preset: str = setting(
        "tiny", "model size and budget: tiny (default; a few minutes on 2 CPU cores), small "
        "(6 layers, embed 256; about an hour), test (seconds; for smoke tests)",
        choices=PRESETS,
    )
    text: str | None = setting(None, "UTF-8 text file to train on (default: the built-in "
                               "story corpus)", metavar="FILE")
    text_sha256: str | None = setting(None, "hash of the training text", flag=False)
    tokenizer: str = setting("char", "char, or a byte-level BPE trained on the text",
                             choices=TOKENIZER_KINDS)
    bpe_vocab_size: int = setting(512, "vocabulary size of the BPE tokenizer", low=260,
                                  metavar="V")
    corpus_chars: int = setting(1_000_000, "characters of the built-in corpus", low=1000,
                                metavar="N")
    steps: int = setting(1000, "optimizer steps", low=1, metavar="N")
    batch_size: int = setting(16, "sequences per step", low=1, metavar="N")
    lr: float = setting(3e-3, "peak learning rate", low=0, low_open=True, metavar="LR")
    min_lr: float | None = setting(None, "learning rate at the end of the cosine decay "
                                   "(default: a tenth of --lr)", low=0, metavar="LR")
    warmup_steps: int = setting(50, "steps of linear warmup (at most --steps)", low=0,
                                metavar="N")
    weight_decay: float = setting(0.1, "AdamW's decoupled weight decay of the matrices", low=0,
                                  metavar="WD")
    betas: tuple[float, float] = setting((0.9, 0.95), "AdamW's beta1 and beta2", low=0, high=1,
                                         high_open=True, metavar="BETA")
    grad_clip: float = setting(1.0, "clip the gradients' joint norm to this", low=0,
                               low_open=True, metavar="NORM")
    seed: int = setting(0, "random seed", low=0, metavar="S")
    eval_interval: int = setting(250, "validate (and save a checkpoint) every N steps", low=1,
                                 metavar="N")
    eval_tokens: int = setting(
        EVAL_TOKENS, "held-out tokens scored per evaluation, in windows spread over the whole "
        "held-out text (0: all of it); the last evaluation always scores all of it", low=0,
        metavar="N",
    )
    time_budget: float | None = setting(
        None, "minutes for the whole run: the number of steps is planned (and re-planned as "
        "the speed changes) so that the learning-rate schedule ends on time; replaces --steps",
        low=0, low_open=True, metavar="MINUTES",
    )
    init_from: str | None = setting(
        None, "fine-tune the model of DIR, a tinytorch run or a Hugging Face GPT-2 directory, "
        "with its tokenizer (model options may only repeat its shape; --dropout and a shorter "
        "--max-seq-len are allowed)", metavar="DIR"
    )

    @classmethod
    def from_dict(cls, data: Any) -> TrainConfig:
        """A saved run's settings; keys of `RETIRED_SETTINGS` are dropped (their successors take
        their defaults)."""
        if isinstance(data, Mapping):
            data = {k: v for k, v in data.items() if k not in RETIRED_SETTINGS}
        return super().from_dict(data)

    def check_together(self) -> None:
        if self.warmup_steps > self.steps:
            raise SettingError(
                "warmup_steps", f"must be at most steps ({self.steps}), got {self.warmup_steps}"
            )
        if self.min_lr is not None and self.min_lr > self.lr:
            raise SettingError("min_lr", f"must be at most lr ({self.lr}), got {self.min_lr}")


class TrainingError(Exception):
    """A run that cannot start or continue for a reason the user can fix (one-line message)."""


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_run_configs(
    model_flags: Mapping[str, Any], train_flags: Mapping[str, Any], text_hash: str | None
) -> tuple[GPTConfig, TrainConfig]:
    """The configs of a new run: the preset's values, then the given flags (vocab_size open).

    A preset's warmup longer than the given --steps is shortened to it; a given --warmup-steps
    longer than --steps is an error.
    """
    _refuse_steps_with_budget(train_flags)
    preset = train_flags.get("preset", "tiny")
    if preset not in PRESETS:
        raise TrainingError(f"--preset must be one of {list(PRESETS)}, got {preset!r}")
    preset_values = PRESETS[preset]
    train_values = {k: v for k, v in preset_values.items() if k in _names(TrainConfig)}
    train_values.update(train_flags)
    if "warmup_steps" not in train_flags and "steps" in train_flags:
        train_values["warmup_steps"] = min(train_values["warmup_steps"], train_flags["steps"])
    train_values["text_sha256"] = text_hash
    model_values = {k: v for k, v in preset_values.items() if k in _names(GPTConfig)}
    model_values.update(model_flags)
    train = _flagged(TrainConfig, train_values)
    if "bpe_vocab_size" in train_flags and train.tokenizer != "bpe" and train.init_from is None:
        raise TrainingError(
            f"--bpe-vocab-size {train.bpe_vocab_size} applies to --tokenizer bpe, and this run's "
            f"tokenizer is {train.tokenizer!r} (drop the option or pass --tokenizer bpe)"
        )
    return _flagged(GPTConfig, model_values), train


def resumed_run_configs(
    saved_model: GPTConfig,
    saved_train: TrainConfig,
    model_flags: Mapping[str, Any],
    train_flags: Mapping[str, Any],
    text_hash: str | None,
) -> tuple[GPTConfig, TrainConfig]:
    """The configs of a resumed run: the saved ones, with a raised --steps or a moved --text."""
    given = {**model_flags, **train_flags}
    saved = {**saved_model.to_dict(), **saved_train.to_dict()}
    for name, value in given.items():
        if name in CHANGEABLE_ON_RESUME:
            continue
        if _jsonable(value) != saved[name]:
            was, now = _shown(saved[name]), _shown(value)
            raise TrainingError(
                f"cannot resume: the run was trained with {flag_name(name)} {was}, not {now} "
                "(drop the option or use another --out)"
            )
    if "text" in train_flags and text_hash != saved_train.text_sha256:
        raise TrainingError(
            f"cannot resume: {train_flags['text']} is not the text this run was trained on"
        )
    changes = {k: train_flags[k] for k in CHANGEABLE_ON_RESUME if k in train_flags}
    _refuse_steps_with_budget({"time_budget": saved_train.time_budget, **changes})
    if "steps" in changes and changes["steps"] < saved_train.warmup_steps:
        raise TrainingError(
            f"cannot resume with --steps {changes['steps']}: the run warms up for "
            f"{saved_train.warmup_steps} steps"
        )
    return saved_model, _flagged(TrainConfig, {**saved_train.to_dict(), **changes})


def _refuse_steps_with_budget(train_flags: Mapping[str, Any]) -> None:
    """A time budget plans the number of steps, so a --steps next to it could only contradict."""
    if "steps" in train_flags and train_flags.get("time_budget") is not None:
        raise TrainingError(
            f"--steps cannot be used with --time-budget {_shown(train_flags['time_budget'])}, "
            "which plans the number of steps (pass one of them; to train a budget run longer, "
            "raise --time-budget)"
        )


def _names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _flagged(cls: type[Settings], values: Mapping[str, Any]) -> Any:
    """cls(**values), with a bad value reported by its command-line flag."""
    try:
        return cls(**values)
    except SettingError as e:
        raise TrainingError(f"{flag_name(e.key)} {e.problem}") from None


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _shown(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
