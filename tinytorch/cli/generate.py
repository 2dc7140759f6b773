"""`tinytorch generate`: continue a prompt with the model of a run or Hugging Face GPT-2
directory.

The text is printed token by token as it is generated, so Ctrl-C keeps everything generated
so far: the first one stops after the current token and says how many were generated.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tinytorch.cli.errors import Interrupted, UsageError
from tinytorch.interrupts import sigint_sets_flag
from tinytorch.models.generation import stream
from tinytorch.pretrained import load_pretrained
from tinytorch.text.stream_decoder import StreamDecoder
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
    steps = stream(
        model,
        ids,
        args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        seed=args.seed,
        sliding_window=True,
    )
    decoder = StreamDecoder(tokenizer)
    _show(decoder.feed(ids))
    shown = 0
    try:
        with sigint_sets_flag() as stop_requested:  # a first Ctrl-C ends after a whole token
            for next_id in steps:
                _show(decoder.feed(next_id))
                shown += 1
                if stop_requested() and shown < args.max_new_tokens:
                    raise Interrupted(
                        f"interrupted after {shown} of {args.max_new_tokens} new tokens; the "
                        "text above is everything generated"
                    )
    except KeyboardInterrupt:  # a second Ctrl-C, possibly half-way through a token
        raise Interrupted("interrupted; the text above is what was generated before it") from None
    finally:
        _show(decoder.finish() + "\n")
    return 0


def _show(text: str) -> None:
    """Print generated text as it comes (stdout may be a pipe, which buffers otherwise)."""
    sys.stdout.write(text)
    sys.stdout.flush()
