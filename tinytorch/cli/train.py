"""`tinytorch train`: its flags are generated from GPTConfig and TrainConfig."""

from __future__ import annotations

import argparse
from typing import Any

from tinytorch import train
from tinytorch.cli.errors import UsageError
from tinytorch.models.gpt_config import GPTConfig
from tinytorch.train_config import TrainConfig


def add_command(commands: Any) -> None:
    parser = commands.add_parser(
        "train",
        help="train a GPT on the built-in story corpus or a text file",
        description="Train a GPT. Without --text it trains on a generated corpus of stories "
        "whose entropy is known, and reports how close the model gets to that floor. Options "
        "left out take the preset's values (or, with --resume, the saved run's).",
    )
    run_options = parser.add_argument_group("the run directory")
    run_options.add_argument(
        "--out",
        metavar="DIR",
        default="runs/latest",
        help="run directory for checkpoints and metrics (default: runs/latest)",
    )
    run_options.add_argument(
        "--resume", action="store_true", help="continue the run in --out exactly where it stopped"
    )
    run_options.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --out (files tinytorch did not write are never touched)",
    )
    TrainConfig.add_flags(parser.add_argument_group("training"))
    GPTConfig.add_flags(parser.add_argument_group("model"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.resume and args.overwrite:
        raise UsageError("--resume continues the run in --out and --overwrite replaces it: "
                         "pass one of them")
    flags = {**TrainConfig.given_flags(args), **GPTConfig.given_flags(args)}
    train.run(args.out, resume=args.resume, overwrite=args.overwrite, **flags)
    return 0
