"""BPE tokenizer speed: training to a 1024-token vocabulary on 1 MB of text, then encoding it.

No torch counterpart exists, so absolute numbers are reported. The text is the built-in story
corpus. Encoding uses a tokenizer rebuilt from the learned merges for every repetition, so its
per-chunk cache starts empty each time (a warm cache would measure dictionary lookups).
"""

from __future__ import annotations

from benchmarks.timing import time_step
from tinytorch.data.corpus import generate_corpus
from tinytorch.text.tokenization import BPETokenizer

TEXT_CHARS = 1_000_000
VOCAB_SIZE = 1024


def run(reps: int, warmup: int) -> list[dict]:
    text = generate_corpus(TEXT_CHARS, seed=0).text
    megabytes = len(text.encode("utf-8")) / 1e6
    trained: list[BPETokenizer] = []
    training = time_step(lambda: trained.append(BPETokenizer.train(text, VOCAB_SIZE)), reps, 0)
    tokenizer = trained[-1]
    merges, specials = tokenizer.merges, list(tokenizer.special_tokens)
    token_counts: list[int] = []

    def encode() -> None:
        fresh = BPETokenizer(merges, specials, tokenizer.pattern)
        token_counts.append(len(fresh.encode(text)))

    encoding = time_step(encode, reps, warmup)
    return [
        {
            "case": f"BPE train, vocab {VOCAB_SIZE}, {megabytes:.2f} MB",
            "tinytorch_ms": training.median_ms,
            "megabytes_per_s": megabytes / (training.median_ms / 1000.0),
        },
        {
            "case": f"BPE encode {megabytes:.2f} MB (cold cache)",
            "tinytorch_ms": encoding.median_ms,
            "megabytes_per_s": megabytes / (encoding.median_ms / 1000.0),
            "tokens_per_s": token_counts[-1] / (encoding.median_ms / 1000.0),
            "tokens": token_counts[-1],
        },
    ]
