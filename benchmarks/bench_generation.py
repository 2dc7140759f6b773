"""Generation speed: tokens per second for 200 new tokens, with the KV cache and without (case 5).

Greedy decoding (temperature 0) from a 16-token prompt, batch 1, with the small GPT's
architecture and a block size of 256 so that prompt + new tokens fit. Without a cache every
step re-runs the whole context; with it, a step runs only the newest token. The torch twin has
no KV cache, so torch is timed on the no-cache loop only (the same loop, written in torch).
"""

from __future__ import annotations

import numpy as np
import torch

from benchmarks.bench_gpt_step import SMALL, GPTSize, make_pair
from benchmarks.timing import time_step
from benchmarks.torch_reference import TorchGPT
from tinytorch.models.transformer import GPT

NEW_TOKENS = 200
PROMPT_LENGTH = 16


def _tinytorch_without_cache(model: GPT, prompt: np.ndarray, new_tokens: int) -> np.ndarray:
    ids = prompt
    for _ in range(new_tokens):
        logits = model.next_token_logits(ids)
        ids = np.concatenate([ids, logits.argmax(axis=-1)[:, None]], axis=1)
    return ids


@torch.no_grad()
def _torch_without_cache(model: TorchGPT, prompt: torch.Tensor, new_tokens: int) -> torch.Tensor:
    ids = prompt
    for _ in range(new_tokens):
        hidden = model.embedding(ids)
        for block in model.blocks:
            hidden = block(hidden)
        logits = model.lm_head(model.ln_f(hidden[:, -1]))
        ids = torch.cat([ids, logits.argmax(dim=-1, keepdim=True)], dim=1)
    return ids


def run(reps: int, warmup: int, new_tokens: int = NEW_TOKENS) -> list[dict]:
    size = GPTSize(
        SMALL.vocab_size,
        SMALL.num_layers,
        SMALL.num_heads,
        SMALL.embed_dim,
        block_size=256,
        batch_size=1,
    )
    pair = make_pair(size)
    model, twin = pair.ours.eval(), pair.theirs.eval()
    prompt = pair.ids[:, :PROMPT_LENGTH]
    cached = model.generate(prompt, new_tokens, temperature=0)
    uncached = _tinytorch_without_cache(model, prompt, new_tokens)
    twin_ids = _torch_without_cache(twin, torch.from_numpy(prompt), new_tokens).numpy()
    # All three loops decode the same model greedily, so they must agree token for token
    # (a tie in the argmax between libraries could differ, which this seed does not have).
    same = bool(np.array_equal(cached, uncached) and np.array_equal(uncached, twin_ids))

    with_cache = time_step(lambda: model.generate(prompt, new_tokens, temperature=0), reps, warmup)
    ours = time_step(lambda: _tinytorch_without_cache(model, prompt, new_tokens), reps, warmup)
    theirs = time_step(
        lambda: _torch_without_cache(twin, torch.from_numpy(prompt), new_tokens), reps, warmup
    )
    per_second = 1000.0 * new_tokens
    return [
        {
            "case": f"generate {new_tokens} tokens, no KV cache",
            "tinytorch_tokens_per_s": per_second / ours.median_ms,
            "torch_tokens_per_s": per_second / theirs.median_ms,
            "tinytorch_ms": ours.median_ms,
            "torch_ms": theirs.median_ms,
            "ratio": ours.median_ms / theirs.median_ms,
            "outputs_agree": same,
        },
        {
            "case": f"generate {new_tokens} tokens, KV cache",
            "tinytorch_tokens_per_s": per_second / with_cache.median_ms,
            "tinytorch_ms": with_cache.median_ms,
            "speedup_vs_no_cache": ours.median_ms / with_cache.median_ms,
        },
    ]
