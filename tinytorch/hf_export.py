"""Export a tinytorch model, or a training run, as a Hugging Face GPT-2 directory.

The directory holds what `GPT2LMHeadModel.from_pretrained(OUT_DIR)` and
`AutoTokenizer.from_pretrained(OUT_DIR)` read: `config.json` (GPT2Config's fields),
`model.safetensors` (GPT-2's tensor names and Conv1D layout, see `models/hf_gpt2.py`) and the
tokenizer's `tokenizer.json`, `tokenizer_config.json` and `special_tokens_map.json`. transformers
then computes the same logits, and one PyTorch training step from a batch gives the loss
tinytorch gives.

Positions: learned ones are GPT-2's `wpe`. A sinusoidal table is written as `wpe` too (equal
logits), but there it is a weight like any other, which PyTorch trains unless you freeze it.
RoPE, ALiBi and no positions have no GPT-2 equivalent and are refused.

The export is written into a fresh hidden directory beside OUT_DIR and renamed to OUT_DIR when
complete, so OUT_DIR holds a whole export or nothing, and an OUT_DIR that holds files is never
touched. Exporting a run holds the run's lock, so no trainer writes the run while it is read.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
from typing import Any

import safetensors.numpy

from tinytorch.files import atomic_write_bytes
from tinytorch.models.hf_gpt2 import CONFIG_FILE, ExportError, gpt2_config, gpt2_tensors
from tinytorch.models.hf_weight_files import WEIGHTS_FILE
from tinytorch.models.transformer import GPT
from tinytorch.run_directory import RunDirectory, listed
from tinytorch.text.tokenization import Tokenizer

__all__ = ["ExportError", "export_gpt2", "export_run"]


def export_gpt2(model: GPT, tokenizer: Tokenizer, out_dir: str | os.PathLike[str]) -> list[str]:
    """Write `model` and `tokenizer` to `out_dir` (new, or an empty directory) as a Hugging
    Face GPT-2 directory; returns the names of the files written."""
    out = _unused_directory(out_dir)
    if tokenizer.vocab_size > model.config.vocab_size:
        raise ExportError(
            f"the tokenizer has {tokenizer.vocab_size} tokens but the model only "
            f"{model.config.vocab_size} embeddings"
        )
    config = json.dumps(gpt2_config(model.config, tokenizer), indent=2) + "\n"
    weights = safetensors.numpy.save(gpt2_tensors(model), metadata={"format": "pt"})

    def write(directory: str) -> None:
        atomic_write_bytes(os.path.join(directory, CONFIG_FILE), config.encode("utf-8"))
        atomic_write_bytes(os.path.join(directory, WEIGHTS_FILE), weights)
        tokenizer.save_pretrained(directory)

    return _write_directory(out, write)


def export_run(run_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> list[str]:
    """Export the last checkpoint of the run in `run_dir` (see `export_gpt2`)."""
    _unused_directory(out_dir)  # before loading anything
    with RunDirectory.resume(run_dir) as run:  # the run's lock: no trainer writes it meanwhile
        model, tokenizer, _ = run.load_model()
        return export_gpt2(model, tokenizer, out_dir)


def _unused_directory(out_dir: str | os.PathLike[str]) -> str:
    """`out_dir` as an absolute path, if it is new or an empty directory."""
    out = os.path.abspath(os.fspath(out_dir))
    if os.path.exists(out) and not os.path.isdir(out):
        raise ExportError(f"{out}: exists and is not a directory")
    present = sorted(os.listdir(out)) if os.path.isdir(out) else []
    if present:
        raise ExportError(
            f"{out}: holds files ({listed(present)}); an export never overwrites files: choose "
            "an empty or new directory"
        )
    return out


def _write_directory(out: str, write: Any) -> list[str]:
    """Run `write(directory)` on a hidden directory beside `out`, then rename it to `out`.

    rename(2) replaces an empty directory and refuses a non-empty one, so an export that
    finishes second, or files that appeared meanwhile, are never overwritten.
    """
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    staging = os.path.join(parent, f".{os.path.basename(out)}.{secrets.token_hex(6)}.export")
    os.mkdir(staging)
    try:
        write(staging)
        written = sorted(os.listdir(staging))
        try:
            os.rename(staging, out)
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                raise
            raise ExportError(
                f"{out}: files appeared in it during the export; nothing was written there"
            ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return written
