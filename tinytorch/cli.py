"""The `tinytorch` command: `tinytorch train` and `tinytorch generate`.

Errors a user can cause (a missing file, a bad option value, a corrupt checkpoint, ...) end the
program with one line, ``tinytorch: error: <message>``, and exit code 2. Anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence

import numpy as np

from tinytorch import checkpoint, train
from tinytorch.text.tokenization import CharTokenizer

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


class UsageError(Exception):
    """A bad command line."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage, so every error is one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


EXPECTED_ERRORS = (
    UsageError,
    train.TrainingError,
    checkpoint.CheckpointError,
    OSError,  # missing or unreadable files, a directory where a file belongs, a full disk
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tinytorch", description="Train and sample small GPT language models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,generate}")

    t = commands.add_parser(
        "train",
        help="train a GPT on the built-in story corpus or a text file",
        description="Train a GPT. Without --text it trains on a generated corpus of stories "
        "whose entropy is known, and reports how close the model gets to that floor. Options "
        "left out take the preset's values (or, with --resume, the saved run's).",
    )
    t.add_argument("--text", metavar="FILE", help="UTF-8 text file to train on")
    t.add_argument(
        "--tokenizer",
        choices=checkpoint.TOKENIZER_KINDS,
        help="char (default) or a byte-level BPE trained on the text",
    )
    t.add_argument(
        "--preset",
        metavar="{" + ",".join(train.PRESETS) + "}",
        help="model size and budget: tiny (default; a few minutes on 2 CPU cores), small "
        "(6 layers, embed 256; about an hour), test (seconds; for smoke tests)",
    )
    t.add_argument("--steps", type=int, metavar="N", help="optimizer steps")
    t.add_argument(
        "--out",
        metavar="DIR",
        default="runs/latest",
        help="run directory for checkpoints and metrics (default: runs/latest)",
    )
    t.add_argument(
        "--resume", action="store_true", help="continue the run in --out exactly where it stopped"
    )
    t.add_argument("--seed", type=int, metavar="S", help="random seed (default 0)")
    t.add_argument("--eval-interval", type=int, metavar="N", help="validate every N steps")
    t.add_argument("--batch-size", type=int, metavar="N", help="sequences per step")
    t.add_argument("--lr", type=float, metavar="LR", help="peak learning rate")
    t.set_defaults(handler=_train)

    g = commands.add_parser(
        "generate",
        help="continue a prompt with a trained model",
        description="Print the prompt followed by the generated text.",
    )
    g.add_argument("run_dir", metavar="DIR", help="run directory written by `tinytorch train`")
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
    g.set_defaults(handler=_generate)
    return parser


def _train(args: argparse.Namespace) -> int:
    train.run(
        args.out,
        resume=args.resume,
        preset=args.preset,
        text=args.text,
        tokenizer=args.tokenizer,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        eval_interval=args.eval_interval,
    )
    return 0


def _generate(args: argparse.Namespace) -> int:
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
    model, tokenizer, _ = checkpoint.load_model(args.run_dir)
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
    vocab_size = model.config["vocab_size"]
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


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror}"
    return " ".join(str(error).split())  # always one line


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as done:  # --help
            return int(done.code or 0)
        return args.handler(args)
    except train.TrainingInterrupted as stop:
        print(
            f"tinytorch: interrupted at step {stop.step}; checkpoint saved. Resume with: "
            f"tinytorch train --out {shlex.quote(stop.out_dir)} --resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("tinytorch: interrupted; the last saved checkpoint is intact", file=sys.stderr)
        return EXIT_INTERRUPTED
    except EXPECTED_ERRORS as error:
        print(f"tinytorch: error: {_describe(error)}", file=sys.stderr)
        return EXIT_ERROR
