"""The `tinytorch` command: `tinytorch train`, `generate`, `inspect` and `export`.

Each command lives in its own module here (`train.py`, `generate.py`, ...) with two functions:
`add_command(commands)` declares its arguments and `run(args)` carries it out. Errors a user can
cause (a missing file, a bad option value, a corrupt checkpoint, ...) end the program with one
line, ``tinytorch: error: <message>``, and exit code 2. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from collections.abc import Sequence

import numpy as np

from tinytorch.cli import export, generate, inspect, train
from tinytorch.cli.errors import Interrupted, UsageError
from tinytorch.core.allocator import keep_freed_memory
from tinytorch.hf_export import ExportError
from tinytorch.models.hf_weight_files import PretrainedError
from tinytorch.run_directory import CheckpointError
from tinytorch.train import TrainingError, TrainingInterrupted

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
COMMANDS = (train, generate, inspect, export)

EXPECTED_ERRORS = (
    UsageError,
    TrainingError,
    CheckpointError,
    PretrainedError,
    ExportError,
    OSError,  # missing or unreadable files, a directory where a file belongs, a full disk
)

__all__ = ["EXPECTED_ERRORS", "UsageError", "build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage, so every error is one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tinytorch", description="Train and sample small GPT language models.")
    names = ",".join(command.__name__.rsplit(".", 1)[-1] for command in COMMANDS)
    commands = parser.add_subparsers(dest="command", required=True, metavar="{" + names + "}")
    for command in COMMANDS:
        command.add_command(commands)
    return parser


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror}"
    return " ".join(str(error).split())  # always one line


def main(argv: Sequence[str] | None = None) -> int:
    keep_freed_memory()  # a training process reuses its freed memory: see core/allocator.py
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as done:  # --help
            return int(done.code or 0)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            # A diverging run is reported in our own words (train.py), not as NumPy warnings.
            warnings.simplefilter("ignore", RuntimeWarning)
            return args.run(args)
    except Interrupted as stop:
        print(f"tinytorch: {stop}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except TrainingInterrupted as stop:
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
