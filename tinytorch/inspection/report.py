"""`inspect_run`: load a training run, compute its `Inspection`, write the figures, summarise.

This is what `tinytorch inspect RUN_DIR [--prompt TEXT] [--out DIR]` calls.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tinytorch.inspection.analysis import Inspection, inspect_model
from tinytorch.inspection.figures import describe_model, write_figures
from tinytorch.run_directory import load_run
from tinytorch.text.tokenizer_base import Tokenizer
from tinytorch.train_config import TrainConfig, TrainingError
from tinytorch.training_data import split_text

CORPUS_PROMPT = "Once upon"
DEFAULT_PROMPT_TOKENS = 24  # a default prompt longer than this makes unreadable attention axes
OUT_SUBDIR = "inspect"


def training_text(config: TrainConfig) -> str | None:
    """The training part of the run's text, split as training split it; None when the text file
    is gone, unreadable or changed (the statistics then describe the prompt instead)."""
    try:
        return split_text(config)[0]
    except (OSError, TrainingError):
        return None


def default_prompt(
    tokenizer: Tokenizer, config: TrainConfig, text: str | None, limit: int | None
) -> str:
    """`CORPUS_PROMPT` for the built-in corpus; else the start of the training text's first
    non-empty line, at most DEFAULT_PROMPT_TOKENS tokens (and the model's position limit)."""
    if config.text is None:
        return CORPUS_PROMPT
    line = next((line for line in (text or "").splitlines() if line.strip()), None)
    if line is None:
        raise ValueError(
            f"no prompt given and the training text {config.text} is gone, unreadable or "
            "changed: pass a prompt"
        )
    keep = min(DEFAULT_PROMPT_TOKENS, limit or DEFAULT_PROMPT_TOKENS)
    return tokenizer.decode(tokenizer.encode_array(line)[:keep])


def summary_lines(inspection: Inspection) -> list[str]:
    """The text version of the figures: tokens, neighbours, memory, positions."""
    i, labels = inspection, inspection.labels
    stats, memory = i.stats, i.memory
    lines = [
        f"model: {describe_model(i)}",
        f"prompt {i.prompt.text!r} -> {len(i.prompt.ids)} tokens: " + " | ".join(i.prompt.tokens),
        f"{i.stats_source}: {stats.num_chars:,} characters, {stats.num_tokens:,} tokens "
        f"({stats.chars_per_token:.2f} characters per token); {stats.distinct_ids} of "
        f"{stats.vocab_size} ids used ({stats.vocab_use:.0%}); unknown {stats.unknown_share:.2%}"
        + (f" {''.join(stats.unknown_chars)!r}" if stats.unknown_chars else ""),
        f"nearest neighbours (cosine) of the most frequent tokens of the {i.stats_source}:",
    ]
    width = max((len(labels[q]) for q in i.neighbours.query_ids.tolist()), default=0)
    for row, query in enumerate(i.neighbours.query_ids.tolist()):
        pairs = zip(
            i.neighbours.ids[row].tolist(), i.neighbours.similarities[row].tolist(), strict=True
        )
        lines.append(
            f"  {labels[query]:<{width}}  " + "  ".join(f"{labels[n]} {s:.2f}" for n, s in pairs)
        )
    head = (
        "the output head is tied to it, counted once"
        if memory.tied_head
        else ("the output head is a separate matrix, not included")
    )
    lines += [
        f"embedding table: {memory.vocab_size} x {memory.embed_dim} {memory.dtype} = "
        f"{memory.table_bytes:,} bytes; with gradient and AdamW state {memory.training_bytes:,} "
        f"bytes; {memory.parameter_share:.1%} of {memory.model_parameters:,} parameters ({head})",
        f"positions: {i.positions.description}",
    ]
    return lines


def inspect_run(
    run_dir: str | os.PathLike[str],
    prompt: str | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    echo: Callable[[str], None] = print,
) -> list[Path]:
    """Write the figures of the run in `run_dir` to `out_dir` (default RUN_DIR/inspect), print a
    summary through `echo`, and return the paths written, the overview last.

    Raises CheckpointError for a missing or broken run, and ValueError for a prompt that is
    empty, longer than a position table allows, or made of characters the model never saw.
    """
    model, tokenizer, config = load_run(run_dir)
    text = training_text(config.train)
    if text is None:
        echo(
            f"note: the training text {config.train.text} is gone, unreadable or changed; "
            "the statistics describe the prompt"
        )
    if prompt is None:
        prompt = default_prompt(tokenizer, config.train, text, model.max_seq_len)
    inspection = inspect_model(model, tokenizer, prompt, text)
    for line in summary_lines(inspection):
        echo(line)
    out = Path(run_dir) / OUT_SUBDIR if out_dir is None else Path(out_dir)
    title = f"{Path(run_dir).name}: {describe_model(inspection)}"
    paths = write_figures(inspection, out, title)
    echo(f"wrote {len(paths)} figures to {out} (overview: {paths[-1].name})")
    return paths
