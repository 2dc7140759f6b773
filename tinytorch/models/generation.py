"""Autoregressive text generation: sample a token, append it, repeat.

The prompt is run once through the model ("prefill"), filling one KV cache per block; every later
step feeds only the newest token, so a step costs O(context) instead of O(context^2).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from tinytorch.core.checks import is_finite_number, is_int
from tinytorch.core.errors import IndexOutOfRangeError
from tinytorch.core.random import default_generator
from tinytorch.core.tensor import Tensor


def sample_next_token(
    logits: np.ndarray, temperature: float, top_k: int | None, rng: np.random.Generator
) -> np.ndarray:
    """One int64 token per row of `logits` (B, V).

    temperature 0 is greedy (argmax); otherwise sample from softmax(logits / temperature),
    restricted to the `top_k` largest logits when given (ties at the k-th value are kept).
    The largest logit is subtracted before dividing, so a temperature so small that the
    division overflows still leaves 0 for the likeliest tokens and -inf for the rest: sampling
    becomes greedy (among exact ties) instead of meeting inf - inf = NaN.
    """
    if temperature == 0.0:
        return logits.argmax(axis=-1).astype(np.int64)
    shifted = logits.astype(np.float64)  # probabilities in float64 for sampling
    shifted -= shifted.max(axis=-1, keepdims=True)
    if top_k is not None and top_k < shifted.shape[-1]:
        kth = np.partition(shifted, -top_k, axis=-1)[:, -top_k, None]
        shifted[shifted < kth] = -np.inf
    with np.errstate(over="ignore"):  # overflow to -inf is the intended limit
        probs = np.exp(shifted / temperature)
    probs /= probs.sum(axis=-1, keepdims=True)
    return np.array([rng.choice(probs.shape[-1], p=row) for row in probs], dtype=np.int64)


def _as_prompt(prompt_ids: Any) -> np.ndarray:
    array = prompt_ids.data if isinstance(prompt_ids, Tensor) else np.asarray(prompt_ids)
    if array.dtype.kind not in "iu":
        raise TypeError(f"prompt_ids must be integer token ids, got dtype {array.dtype}")
    if array.ndim not in (1, 2) or array.shape[-1] == 0:
        raise ValueError(
            f"prompt_ids must have shape (seq_len,) or (batch, seq_len) with seq_len >= 1, "
            f"got {array.shape}"
        )
    return array.astype(np.int64, copy=False)


def _check_arguments(
    max_new_tokens: Any, temperature: Any, top_k: Any, eos_id: Any, vocab_size: int
) -> None:
    if not is_int(max_new_tokens) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
    if (
        not is_finite_number(temperature)
        or temperature < 0
    ):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if top_k is not None and (not is_int(top_k) or not 1 <= top_k <= vocab_size):
        raise ValueError(f"top_k must be an integer in [1, {vocab_size}] or None, got {top_k!r}")
    if eos_id is not None:
        if not is_int(eos_id):
            raise TypeError(f"eos_id must be an integer token id or None, got {eos_id!r}")
        if not 0 <= eos_id < vocab_size:
            raise IndexOutOfRangeError(
                f"eos_id {eos_id} is out of range for a vocabulary of {vocab_size}: allowed "
                f"[0, {vocab_size})"
            )


def generate(model: Any, prompt_ids: Any, max_new_tokens: int, **options: Any) -> np.ndarray:
    """Extend `prompt_ids` ((T,) or (B, T)) by up to `max_new_tokens` tokens; returns int64 ids.

    `options` are `stream`'s (temperature, top_k, seed, eos_id, sliding_window); this is
    `stream` with its steps joined to the prompt.
    """
    prompt = _as_prompt(prompt_ids)
    steps = stream(model, prompt, max_new_tokens, **options)
    rows = prompt[None] if prompt.ndim == 1 else prompt
    ids = np.concatenate([rows, *(t[:, None] for t in steps)], axis=1)
    return ids[0] if prompt.ndim == 1 else ids


def stream(
    model: Any,
    prompt_ids: Any,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    eos_id: int | None = None,
    sliding_window: bool = False,
) -> Iterator[np.ndarray]:
    """Generation one step at a time: yields each step's new token of every row (int64, shape
    (B,)) as soon as it is sampled, so a caller can show text as it comes (`generate` joins
    them). The arguments are checked at the call, before the first token is asked for.

    `model` is a GPT (anything with `config`, `max_seq_len`, `new_kv_caches`,
    `next_token_logits`, `train`/`eval`). Runs in eval mode without a graph, restoring the
    model's mode afterwards. `seed` gives sampling its own generator (reproducible, leaves the
    global one untouched); otherwise `tinytorch.core.random.default_generator()` is used.
    With `eos_id`, a row that produced it is padded with eos_id, and generation stops once every
    row has. Positions from a table (learned/sinusoidal) cannot exceed `max_seq_len`: longer
    requests raise unless `sliding_window=True`, which keeps the last `max_seq_len` tokens as
    context (recomputed without the cache once the window slides). rope/alibi have no limit.
    """
    vocab_size = model.config.vocab_size
    prompt = _as_prompt(prompt_ids)
    _check_arguments(max_new_tokens, temperature, top_k, eos_id, vocab_size)
    ids = prompt[None] if prompt.ndim == 1 else prompt
    limit = model.max_seq_len
    total = ids.shape[1] + max_new_tokens
    if limit is not None and total > limit and not sliding_window:
        raise ValueError(
            f"prompt length {ids.shape[1]} + max_new_tokens {max_new_tokens} = {total} exceeds "
            f"maximum sequence length {limit} of the {model.config.pos_encoding} positions; "
            "pass sliding_window=True to keep only the last max_seq_len tokens as context"
        )
    rng = np.random.default_rng(seed) if seed is not None else default_generator()
    return _steps(model, ids, max_new_tokens, float(temperature), top_k, rng, eos_id)


def _steps(
    model: Any,
    ids: np.ndarray,
    max_new_tokens: int,
    temperature: float,
    top_k: int | None,
    rng: np.random.Generator,
    eos_id: int | None,
) -> Iterator[np.ndarray]:
    limit = model.max_seq_len
    was_training = model.training
    model.eval()
    try:
        caches = model.new_kv_caches()
        context = ids if limit is None else ids[:, -limit:]
        logits = model.next_token_logits(context, caches)
        finished = np.zeros(ids.shape[0], dtype=bool)
        for step in range(max_new_tokens):
            next_ids = sample_next_token(logits, temperature, top_k, rng)
            if eos_id is not None:
                next_ids[finished] = eos_id
                finished |= next_ids == eos_id
            ids = np.concatenate([ids, next_ids[:, None]], axis=1)
            yield next_ids
            if finished.all() or step == max_new_tokens - 1:
                break
            if limit is not None and ids.shape[1] > limit:
                logits = model.next_token_logits(ids[:, -limit:])  # the window slid: no cache
            else:
                logits = model.next_token_logits(next_ids[:, None], caches)
    finally:
        model.train(was_training)
