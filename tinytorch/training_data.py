"""What a run trains and evaluates on: the text, split, tokenized, and what to compare with.

The built-in story corpus is generated from its seed (and knows its entropy floor); a user's text
is read as UTF-8 and checked against the hash the run recorded, so a resumed run can never train
on different text. The last 10% of the text is held out for validation (`tinytorch.evaluation`
says which of its tokens are scored), and an n-gram model counted on the training part is scored
on the same held-out tokens: the baseline the network has to beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinytorch import memory_budget
from tinytorch.data import generate_corpus, load_text
from tinytorch.evaluation import HeldOutScore, HeldOutWindows, score_log_probs
from tinytorch.models.ngram import NGramModel
from tinytorch.text.tokenization import BPETokenizer, CharTokenizer, Tokenizer
from tinytorch.train_config import TrainConfig, TrainingError, text_sha256

VAL_FRACTION = 0.1
# The n-gram baseline counts at most this many training tokens (the last ones): about a second
# and 100 bytes per token on a laptop; a text of tens of megabytes would cost minutes and gigabytes.
BASELINE_MAX_TOKENS = 2_000_000


@dataclass(frozen=True)
class TrainingData:
    train_ids: np.ndarray
    val_ids: np.ndarray
    tokenizer: Tokenizer
    held_out: HeldOutWindows  # windows scoring every held-out token once
    baseline: HeldOutScore  # the n-gram model's score on all of `held_out`
    baseline_tokens: int  # the training tokens it counted (the last ones, at most all)
    tokens_per_char: float  # of the training text, to put train loss in bits per character
    floor_bits_per_char: float | None  # entropy of the built-in corpus; None for user text
    prompts: list[str]


def read_training_text(path: str) -> str:
    """The user's text, refused before it is read whole if the machine's memory could not hold
    it and its token ids (an endless pipe as `--text /dev/stdin` stops at that bound too)."""
    memory = memory_budget.memory_limit()
    limit = None if memory is None else memory // memory_budget.CORPUS_BYTES_PER_CHAR
    try:
        return load_text(path, limit)
    except ValueError as e:  # undecodable, empty or too large: the user's file, not a bug
        raise TrainingError(str(e)) from e


def split_text(config: TrainConfig, text: str | None = None) -> tuple[str, str, float | None]:
    """(training text, validation text, the corpus's entropy floor or None) of a run: the
    built-in corpus regenerated from its seed, or the user's text checked against its hash.

    `text` is the content of `config.text` if the caller has read it already (and checked it
    against `config.text_sha256`, as `train.run` does): a pipe or a process substitution
    (`--text /dev/stdin`, `<(cmd)`) can be read only once.
    """
    if config.text is None:
        corpus = generate_corpus(config.corpus_chars, seed=0)
        train_text, val_text = corpus.split(VAL_FRACTION)
        return train_text, val_text, corpus.entropy_bits_per_char
    if text is None:
        text = read_training_text(config.text)
        if text_sha256(text) != config.text_sha256:
            raise TrainingError(f"{config.text} changed since this run started; cannot resume")
    cut = int(len(text) * (1.0 - VAL_FRACTION))
    return text[:cut], text[cut:], None


def prepare_data(
    config: TrainConfig,
    block_size: int,
    tokenizer: Tokenizer | None = None,
    text: str | None = None,
) -> TrainingData:
    """Split the text, build (or reuse) the tokenizer, lay out the held-out windows, and score
    the n-gram baseline on them.

    `text`: the content of `config.text` if the caller has read it already (see `split_text`).
    """
    train_text, val_text, floor = split_text(config, text)
    if tokenizer is None:
        if config.tokenizer == "bpe":
            tokenizer = BPETokenizer.train(train_text, config.bpe_vocab_size)
        else:  # the alphabet of the whole text, so validation has no unknown characters
            tokenizer = CharTokenizer.from_text(train_text + val_text)
    train_ids, val_ids = tokenizer.encode_array(train_text), tokenizer.encode_array(val_text)
    source = config.text or "the built-in corpus"
    parts = (
        ("training", f"first {1 - VAL_FRACTION:.0%}", train_ids),
        ("validation", f"last {VAL_FRACTION:.0%}", val_ids),
    )
    for part, where, ids in parts:
        if len(ids) <= block_size:
            raise TrainingError(
                f"{source} is too short: its {part} part (the {where}) has {len(ids)} tokens, "
                f"blocks of {block_size} tokens (--max-seq-len) need more than {block_size}"
            )
    held_out = HeldOutWindows.covering(val_ids, block_size, tokenizer)
    counted = train_ids[-BASELINE_MAX_TOKENS:]
    ngram = NGramModel.fit(counted, tokenizer.vocab_size)
    return TrainingData(
        train_ids=train_ids,
        val_ids=val_ids,
        tokenizer=tokenizer,
        held_out=held_out,
        baseline=score_log_probs(ngram.token_log_probs(val_ids), held_out),
        baseline_tokens=len(counted),
        tokens_per_char=len(train_ids) / len(train_text),
        floor_bits_per_char=floor,
        prompts=_sample_prompts(val_text),
    )


def _sample_prompts(text: str, count: int = 3) -> list[str]:
    """The first two words of the first few lines: natural places for a model to continue."""
    prompts: list[str] = []
    for line in text.splitlines():
        words = line.split(" ")[:2]
        prompt = " ".join(words).strip()
        if prompt and prompt not in prompts:
            prompts.append(prompt)
        if len(prompts) == count:
            break
    return prompts or [text[:8]]
