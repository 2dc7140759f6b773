"""`tinytorch inspect`: pictures of what a run's embeddings, positions and attention learned."""

from __future__ import annotations

import argparse
from typing import Any

from tinytorch.cli.errors import UsageError
from tinytorch.run_directory import CheckpointError


def add_command(commands: Any) -> None:
    parser = commands.add_parser(
        "inspect",
        help="draw what a trained model's embeddings, positions and attention look like",
        description="Write PNG figures of a run: its token embeddings projected to 2-D with "
        "nearest neighbours, its position table next to the sinusoidal reference, attention maps "
        "of every layer and head for a prompt, how the prompt is tokenized, and the embedding "
        "table's memory; plus one overview image. Prints a short summary.",
    )
    parser.add_argument(
        "run_dir", metavar="RUN_DIR", help="run directory written by tinytorch train"
    )
    parser.add_argument(
        "--prompt",
        help="text whose attention maps to draw (default: the start of the training text)",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="where to write the figures (default: RUN_DIR/inspect)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: the figures need matplotlib, which every other command would load for nothing.
    from tinytorch.inspection import inspect_run

    try:
        inspect_run(args.run_dir, args.prompt, args.out)
    except CheckpointError:
        raise  # a missing or broken run, reported as it is
    except ValueError as e:  # a prompt the model cannot take (empty, too long, unknown characters)
        raise UsageError(str(e)) from e
    return 0
