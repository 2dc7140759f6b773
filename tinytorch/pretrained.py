"""Models that exist before a command runs: a tinytorch run or a Hugging Face GPT-2 directory.

Both hold a `config.json`, and its content tells them apart: a run's says
`"format": "tinytorch.checkpoint"`, a Hugging Face model's names a `model_type`. `tinytorch
generate DIR` samples from either, and `tinytorch train --init-from DIR` fine-tunes either,
keeping its tokenizer (nanoGPT's `init_from`): the model's shape is DIR's, so a model flag may
only repeat it, except `--dropout` (a training choice) and a `--max-seq-len` that shortens the
context a learned position table allows (its first rows are kept).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from tinytorch.core.random import uninitialized
from tinytorch.files import read_json
from tinytorch.models.gpt_config import GPTConfig
from tinytorch.models.hf_gpt2 import CONFIG_FILE, is_huggingface_config
from tinytorch.models.hf_weight_files import JSON_LIMIT, PretrainedError
from tinytorch.models.transformer import GPT
from tinytorch.run_directory import load_run
from tinytorch.settings import flag_name
from tinytorch.text.hf_tokenizer_files import pretrained_model_type
from tinytorch.text.tokenization import BPETokenizer, CharTokenizer, Tokenizer
from tinytorch.train_config import TrainConfig, TrainingError

# Model flags that --init-from accepts with a value other than DIR's (see the module docstring).
CHANGEABLE_WITH_INIT = ("dropout", "max_seq_len")


@dataclass(frozen=True)
class Pretrained:
    model: GPT
    tokenizer: Tokenizer
    tokenizer_kind: str  # "char" or "bpe", as TrainConfig.tokenizer names it


def is_huggingface_directory(path: str | os.PathLike[str]) -> bool:
    try:
        data = read_json(os.path.join(path, CONFIG_FILE), limit=JSON_LIMIT)
    except (OSError, ValueError):
        return False  # not a readable config: the run directory's loader says what is wrong
    return is_huggingface_config(data)


def load_pretrained(path: str | os.PathLike[str], dropout: float | None = None) -> Pretrained:
    """The model and tokenizer of a run directory or a Hugging Face GPT-2 directory.

    A Hugging Face directory's tokenizer is its byte-level BPE (`tokenizer.json`, or
    `vocab.json` + `merges.txt`), or the char-level file `tinytorch export` writes for a char
    run; `dropout` overrides its config's dropout probabilities.
    """
    if not is_huggingface_directory(path):
        model, tokenizer, config = load_run(path)
        return Pretrained(model, tokenizer, config.tokenizer)
    model = GPT.from_pretrained(path, dropout)
    # A char run exported by `tinytorch export` has a one-token-per-character WordLevel file.
    kind, loader = (
        ("char", CharTokenizer.from_pretrained)
        if pretrained_model_type(path) == "WordLevel"
        else ("bpe", BPETokenizer.from_pretrained)
    )
    try:
        tokenizer = loader(path)
    except ValueError as e:  # a corrupt or unsupported tokenizer file, named in the message
        raise PretrainedError(str(e)) from None
    if tokenizer.vocab_size != model.config.vocab_size:  # else generated ids may not decode
        raise PretrainedError(
            f"{path}: the tokenizer has {tokenizer.vocab_size} tokens but the model "
            f"{model.config.vocab_size} (config.json's vocab_size); they must be equal"
        )
    return Pretrained(model, tokenizer, kind)


def init_from(
    train: TrainConfig, model_flags: Mapping[str, Any], train_flags: Mapping[str, Any]
) -> tuple[Pretrained, GPTConfig, TrainConfig]:
    """What `tinytorch train --init-from DIR` starts from: DIR's model (in training mode) and
    tokenizer, the model's config, and `train` with DIR's tokenizer kind.

    `model_flags` and `train_flags` are the flags given on the command line; one that
    contradicts DIR is refused rather than silently ignored.
    """
    path = train.init_from
    assert path is not None
    start = load_pretrained(path, model_flags.get("dropout"))
    saved = start.model.config
    for name, value in model_flags.items():
        if name not in CHANGEABLE_WITH_INIT and value != getattr(saved, name):
            raise TrainingError(
                f"--init-from {path}: its model has {flag_name(name)} {getattr(saved, name)}, "
                f"not {value} (drop the option: the model's shape is the pretrained one's)"
            )
    if train_flags.get("tokenizer", start.tokenizer_kind) != start.tokenizer_kind:
        raise TrainingError(
            f"--init-from {path}: its tokenizer is {start.tokenizer_kind!r}, not "
            f"{train_flags['tokenizer']!r} (a pretrained model keeps its tokenizer)"
        )
    vocab = start.tokenizer.vocab_size
    if train_flags.get("bpe_vocab_size", vocab) != vocab:
        raise TrainingError(
            f"--init-from {path}: its tokenizer has {vocab} tokens, not --bpe-vocab-size "
            f"{train_flags['bpe_vocab_size']} (a pretrained model keeps its tokenizer)"
        )
    changes = {
        name: model_flags[name]
        for name in CHANGEABLE_WITH_INIT
        if name in model_flags and model_flags[name] != getattr(saved, name)
    }
    model = _rebuilt(start.model, changes, path) if changes else start.model
    model.train()
    return replace(start, model=model), model.config, replace(train, tokenizer=start.tokenizer_kind)


def _rebuilt(model: GPT, changes: Mapping[str, Any], path: str) -> GPT:
    """The same weights in a model whose config has `changes` (a dropout, a context length: a
    learned position table keeps its first rows, and cannot grow)."""
    config = replace(model.config, **changes)
    state = model.state_dict()
    if config.pos_encoding == "learned" and config.max_seq_len != model.config.max_seq_len:
        if config.max_seq_len > model.config.max_seq_len:
            raise TrainingError(
                f"--init-from {path}: --max-seq-len {config.max_seq_len} exceeds the "
                f"{model.config.max_seq_len} positions its model learned"
            )
        table = "embedding.position_encoding.weight"
        state[table] = state[table][: config.max_seq_len]
    with uninitialized():  # every weight is about to be overwritten
        rebuilt = GPT(config)
    rebuilt.load_state_dict(state)
    return rebuilt
