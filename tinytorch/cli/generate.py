"""`tinytorch generate`: continue a prompt with the model of a run or Hugging Face GPT-2
directory."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from tinytorch.cli.errors import UsageError
from tinytorch.pretrained import load_pretrained
from tinytorch.text.tokenization import CharTokenizer


def add_command(commands: Any) -> None:
    g = commands.add_parser(
        "generate",
        help="continue a prompt with a trained model",
        description="Print the prompt followed by the generated text.",
    )
    g.add_argument(
        "run_dir",
        metavar="DIR",
        help="run directory written by `tinytorch train`, or a Hugging Face GPT-2 directory "
        "(config.json, model.safetensors, tokenizer.json or vocab.json + merges.txt)",
    )
    g.add_argument("--prompt", required=True, help="text to continue (not empty)")
    g.add_argument(
        "--max-new-tokens", type=int, default=200, metavar="N", help="tokens to add (default 200)"
    )
    g.add_argument(
        "--temperature",
        type=float,
        default=0.8,
        metavar="T",
        help="0 picks the most likely token; higher is more random (default 0.8)",
    )
    g.add_argument("--top-k", type=int, metavar="K", help="sample among the K likeliest tokens")
    g.add_argument("--seed", type=int, default=0, metavar="S", help="sampling seed (default 0)")
    g.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.max_new_tokens < 1:
        raise UsageError(f"--max-new-tokens must be at least 1, got {args.max_new_tokens}")
    if not args.temperature >= 0.0 or args.temperature == float("inf"):
        raise UsageError(f"--temperature must be a finite number >= 0, got {args.temperature}")
    if args.top_k is not None and args.top_k < 1:
        raise UsageError(f"--top-k must be at least 1, got {args.top_k}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    if not args.prompt:
        raise UsageError("--prompt must not be empty")
    pretrained = load_pretrained(args.run_dir, dropout=0.0)  # no dropout when sampling
    model, tokenizer = pretrained.model, pretrained.tokenizer
    try:  # bytes that are not UTF-8 reach argv as lone surrogates, which BPE cannot encode
        ids = tokenizer.encode_array(args.prompt)
    except ValueError as e:
        raise UsageError(f"--prompt: {e}") from e
    if isinstance(tokenizer, CharTokenizer) and (ids == tokenizer.unk_id).any():
        unknown = sorted(
            {ch for ch, i in zip(args.prompt, ids.tolist(), strict=True) if i == tokenizer.unk_id}
        )
        raise UsageError(
            f"the prompt contains characters this model never saw: {''.join(unknown)!r} "
            f"(its alphabet has {len(tokenizer.chars)} characters)"
        )
    vocab_size = model.config.vocab_size
    if args.top_k is not None and args.top_k > vocab_size:
        raise UsageError(
            f"--top-k must be at most the vocabulary size {vocab_size}, got {args.top_k}"
        )
    out = model.generate(
        ids,
        args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        seed=args.seed,
        sliding_window=True,
    )
    print(tokenizer.decode(np.asarray(out)))
    return 0
