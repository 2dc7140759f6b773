"""`tinytorch export`: a run as a Hugging Face GPT-2 directory (see `tinytorch/hf_export.py`)."""

from __future__ import annotations

import argparse
from typing import Any

from tinytorch.hf_export import export_run


def add_command(commands: Any) -> None:
    e = commands.add_parser(
        "export",
        help="write a run's model and tokenizer as a Hugging Face GPT-2 directory",
        description="Write the last checkpoint of RUN_DIR to OUT_DIR (new or empty) as "
        "config.json, model.safetensors and tokenizer files that transformers' "
        "GPT2LMHeadModel.from_pretrained and AutoTokenizer.from_pretrained load.",
    )
    e.add_argument("run_dir", metavar="RUN_DIR", help="run directory written by `tinytorch train`")
    e.add_argument("out_dir", metavar="OUT_DIR", help="directory to create (or an empty one)")
    e.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    written = export_run(args.run_dir, args.out_dir)
    print(
        f"exported {args.run_dir} to {args.out_dir} ({', '.join(written)}); in Python: "
        f"GPT2LMHeadModel.from_pretrained({args.out_dir!r})"
    )
    return 0
