"""GPT-2 small (124M parameters) in tinytorch and in Hugging Face transformers, same weights.

transformers builds a randomly initialised `GPT2LMHeadModel` of GPT-2 small's shape and saves it
with `save_pretrained`; tinytorch loads that directory with `GPT.from_pretrained`, so both
libraries hold the very same weights (the import path is part of what is exercised). Cases:

- generation: KV-cached greedy decoding of 100 new tokens after a 32-token prompt, tinytorch's
  `generate(temperature=0)` vs transformers' `generate(use_cache=True, do_sample=False)`;
- prefill: one forward pass over a 512-token prompt that fills the KV cache and returns the
  next token's logits (transformers: `use_cache=True, logits_to_keep=1`);
- load: `from_pretrained` of the directory, in a fresh process per library: seconds, and peak
  RSS during the load minus RSS before it (the weights are 498 MB as float32).

The libraries take turns in blocks of repetitions with a pause between blocks (see
`benchmarks/timing.py`), on the same thread count; the first call of each, which checks that
both produce the same tokens (or logits), is their warm-up.

    python -m benchmarks --cases hf-generation hf-prefill hf-load
"""

from __future__ import annotations

import argparse
import atexit
import functools
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass

import numpy as np
import torch

from benchmarks.bench_memory import _measure
from benchmarks.timing import compare, in_fresh_process

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPT_TOKENS = 32
NEW_TOKENS = 100
PREFILL_TOKENS = 512
PAUSE_S = 1.0


@dataclass(frozen=True)
class Pair:
    directory: str
    ours: object  # tinytorch GPT
    theirs: object  # transformers GPT2LMHeadModel


@functools.lru_cache(maxsize=1)
def gpt2_small_directory() -> str:
    """GPT-2 small with random weights, saved once by transformers (the directory lives until
    the process exits)."""
    from transformers import GPT2Config, GPT2LMHeadModel
    from transformers.utils import logging

    logging.disable_progress_bar()
    directory = tempfile.mkdtemp(prefix="tinytorch-gpt2-small-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(bos_token_id=None, eos_token_id=None)).save_pretrained(directory)
    return directory


@functools.lru_cache(maxsize=1)
def gpt2_small_pair() -> Pair:
    """That directory loaded by both libraries."""
    from transformers import GPT2LMHeadModel

    from tinytorch.models.transformer import GPT

    directory = gpt2_small_directory()
    theirs = GPT2LMHeadModel.from_pretrained(directory).eval()
    return Pair(directory, GPT.from_pretrained(directory), theirs)


def run_generation(reps: int) -> list[dict]:
    pair = gpt2_small_pair()
    prompt = np.random.default_rng(0).integers(0, 50257, PROMPT_TOKENS)
    prompt_t = torch.from_numpy(prompt[None])

    def ours() -> np.ndarray:
        return pair.ours.generate(prompt, NEW_TOKENS, temperature=0)

    @torch.no_grad()
    def theirs() -> torch.Tensor:
        return pair.theirs.generate(
            prompt_t, do_sample=False, use_cache=True, max_new_tokens=NEW_TOKENS, pad_token_id=0
        )

    agree = bool(np.array_equal(ours(), theirs()[0].numpy()))
    timing = compare(ours, theirs, reps, warmup=0, pause_s=PAUSE_S)
    per_second = 1000.0 * NEW_TOKENS
    return [
        {
            "case": f"GPT-2 124M greedy {NEW_TOKENS} tokens after {PROMPT_TOKENS}, KV cache",
            **timing,
            "tinytorch_tokens_per_s": per_second / timing["tinytorch_ms"],
            "torch_tokens_per_s": per_second / timing["torch_ms"],
            "outputs_agree": agree,
        }
    ]


def run_prefill(reps: int) -> list[dict]:
    pair = gpt2_small_pair()
    prompt = np.random.default_rng(1).integers(0, 50257, (1, PREFILL_TOKENS))
    prompt_t = torch.from_numpy(prompt)

    def ours() -> np.ndarray:
        return pair.ours.next_token_logits(prompt, pair.ours.new_kv_caches())

    @torch.no_grad()
    def theirs() -> torch.Tensor:
        return pair.theirs(prompt_t, use_cache=True, logits_to_keep=1).logits[:, -1]

    difference = float(np.abs(ours() - theirs().numpy()).max())
    timing = compare(ours, theirs, reps, warmup=0, pause_s=PAUSE_S)
    return [{"case": f"GPT-2 124M prefill {PREFILL_TOKENS} tokens", **timing,
             "max_logit_difference": difference}]


def run_load() -> list[dict]:
    """from_pretrained of the same directory, each library in a fresh process."""
    directory = gpt2_small_directory()  # the children load it: no model in this process
    ours, theirs = (
        in_fresh_process("benchmarks.bench_hf_generation", "--load", directory, "--library", lib)
        for lib in ("tinytorch", "transformers")
    )
    return [
        {"case": "GPT-2 124M from_pretrained, seconds", "tinytorch_ms": 1000.0 * ours["seconds"],
         "torch_ms": 1000.0 * theirs["seconds"], "ratio": ours["seconds"] / theirs["seconds"]},
        {"case": "GPT-2 124M from_pretrained, peak RSS growth",
         "tinytorch_mb": ours["rss_delta_mb"], "torch_mb": theirs["rss_delta_mb"],
         "ratio": ours["rss_delta_mb"] / theirs["rss_delta_mb"]},
    ]


def _load_in_this_process(directory: str, library: str) -> dict[str, float]:
    if library == "tinytorch":
        from tinytorch.models.transformer import GPT

        load = functools.partial(GPT.from_pretrained, directory)
    else:
        from transformers import GPT2LMHeadModel

        load = functools.partial(GPT2LMHeadModel.from_pretrained, directory)
    kept = []
    start = time.perf_counter()
    result = _measure(lambda: kept.append(load()), trace=False)
    return {"seconds": time.perf_counter() - start, **result}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="from_pretrained in this process (run_load)")
    parser.add_argument("--load", required=True, metavar="DIR")
    parser.add_argument("--library", required=True, choices=("tinytorch", "transformers"))
    arguments = parser.parse_args()
    print(json.dumps(_load_in_this_process(arguments.load, arguments.library)))
