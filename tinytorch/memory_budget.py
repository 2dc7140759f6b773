"""How much memory a model or a training run needs, estimated before anything is allocated.

A size given on the command line or read from config.json decides how much memory a run
allocates; one that cannot fit is refused here, with a message, before any array exists or any
file is written, instead of ending in a MemoryError deep inside NumPy or in the kernel's OOM
killer. The estimate (float32, 4 bytes a number) for P parameters, L layers of width D, H heads,
MLP width F, vocabulary V, and batches of B sequences of T tokens (N = B * T):

    building the model   4 P                     + 16 T D for a sinusoidal table (built in float64)
    training             16 P                    weights, gradients, AdamW's two moments
                         + 4 L (N (10 D + 2 F) + 2 B H T^2)
                                                 per layer: the inputs kept for backward (two
                                                 LayerNorms, q/k/v, attention output and its
                                                 projection, two residuals: 10 D; the MLP's
                                                 hidden layer before and after its activation:
                                                 2 F) and the attention scores and weights
                         + 4 (2 N D + 3 N V)     embeddings and final LayerNorm; logits, their
                                                 softmax and its gradient
                         + 20 C                  the built-in corpus of C characters (text, ids)

Measured with tracemalloc over two AdamW steps, the estimate is 0.7 to 1.05 times the real peak
(from the `test` preset to L=6, D=384, T=256, B=8), so only runs that cannot fit are refused.
The limit is the machine's physical memory (or the container's, when it has a lower one).
"""

from __future__ import annotations

import dataclasses
import os

from tinytorch.checkpoint_error import CheckpointError
from tinytorch.models.gpt_config import GPTConfig
from tinytorch.train_config import TrainConfig, TrainingError

CHAR_VOCAB_ESTIMATE = 256  # a char tokenizer's vocabulary is not known before the text is read
CORPUS_BYTES_PER_CHAR = 20
CGROUP_LIMIT = "/sys/fs/cgroup/memory.max"


def building_bytes(model: GPTConfig) -> int:
    """Bytes that building `GPT(model)` allocates at its peak."""
    needed = 4 * model.parameter_count()
    if model.pos_encoding == "sinusoidal":
        needed += 16 * model.max_seq_len * model.embed_dim
    return needed


def training_bytes(model: GPTConfig, train: TrainConfig) -> int:
    """Bytes that training `model` with `train`'s batch size (and corpus) needs at its peak."""
    vocab = model.vocab_size or (
        train.bpe_vocab_size if train.tokenizer == "bpe" else CHAR_VOCAB_ESTIMATE
    )
    model = dataclasses.replace(model, vocab_size=vocab)
    batch, length, dim = train.batch_size, model.max_seq_len, model.embed_dim
    tokens = batch * length
    per_layer = tokens * (10 * dim + 2 * model.hidden_dim) + 2 * batch * model.num_heads * length**2
    activations = 4 * (model.num_layers * per_layer + 2 * tokens * dim + 3 * tokens * vocab)
    corpus = CORPUS_BYTES_PER_CHAR * train.corpus_chars if train.text is None else 0
    return building_bytes(model) + 12 * model.parameter_count() + activations + corpus


def memory_limit() -> int | None:
    """The machine's physical memory, or its container's limit if lower; None if unknown."""
    try:
        limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    try:
        with open(CGROUP_LIMIT) as f:
            cgroup = f.read().strip()
    except OSError:
        return limit
    return min(limit, int(cgroup)) if cgroup.isdigit() else limit


def check_model_fits(model: GPTConfig, config_path: str) -> None:
    """Refuse (CheckpointError naming config.json) a saved model too big to build here."""
    problem = _too_big(building_bytes(model), "to build")
    if problem:
        raise CheckpointError(f"{config_path}: model: {problem}")


def check_training_fits(model: GPTConfig, train: TrainConfig, saved_in: str | None) -> None:
    """Refuse a training run too big for this machine: TrainingError naming the flags for a new
    run, CheckpointError naming `saved_in` (its config.json) for a resumed one."""
    problem = _too_big(training_bytes(model, train), "to train")
    if problem is None:
        return
    if saved_in is not None:
        raise CheckpointError(f"{saved_in}: model and train: {problem}")
    raise TrainingError(
        f"--batch-size {train.batch_size}, --max-seq-len {model.max_seq_len}, --embed-dim "
        f"{model.embed_dim} and --num-layers {model.num_layers}: {problem}; lower them"
    )


def _too_big(needed: int, what: str) -> str | None:
    limit = memory_limit()
    if limit is None or needed <= limit:
        return None
    return (
        f"needs about {_size(needed)} of memory {what} (estimated as in "
        f"tinytorch/memory_budget.py), more than this machine's {_size(limit)}"
    )


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024:
            return f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} EiB"
