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

PRESETS: dict[str, dict[str, Any]] = {
    # About 2-3 minutes on two CPU cores: the default.
    "tiny": dict(embed_dim=128, num_layers=4, num_heads=4, max_seq_len=64, batch_size=16,
                 steps=1000, lr=3e-3, warmup_steps=50, eval_interval=250, eval_batches=8,
                 corpus_chars=1_000_000, bpe_vocab_size=512),
    # About an hour.
    "small": dict(embed_dim=256, num_layers=6, num_heads=8, max_seq_len=128, batch_size=16,
                  steps=2000, lr=1e-3, warmup_steps=100, eval_interval=250, eval_batches=16,
                  corpus_chars=2_000_000, bpe_vocab_size=1024),
    # Seconds-long runs for tests and smoke checks; not meant to learn much.
    "test": dict(embed_dim=32, num_layers=1, num_heads=2, max_seq_len=16, batch_size=4,
                 steps=6, lr=1e-2, warmup_steps=2, eval_interval=3, eval_batches=2,
                 corpus_chars=20_000, bpe_vocab_size=300),
}
TOKENIZER_KINDS = ("char", "bpe")
# A resumed run may train for more steps (its schedule stretches to the new total) and read its
# text from a new path holding the same content (checked by hash).
CHANGEABLE_ON_RESUME = ("steps", "text")


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
    eval_batches: int = setting(8, "validation batches per evaluation", low=1, metavar="N")
    init_from: str | None = setting(
        None, "fine-tune the model of DIR, a tinytorch run or a Hugging Face GPT-2 directory, "
        "with its tokenizer (model options may only repeat its shape; --dropout and a shorter "
        "--max-seq-len are allowed)", metavar="DIR"
    )

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
    return _flagged(GPTConfig, model_values), _flagged(TrainConfig, train_values)


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
    if "steps" in changes and changes["steps"] < saved_train.warmup_steps:
        raise TrainingError(
            f"cannot resume with --steps {changes['steps']}: the run warms up for "
            f"{saved_train.warmup_steps} steps"
        )
    return saved_model, _flagged(TrainConfig, {**saved_train.to_dict(), **changes})


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
