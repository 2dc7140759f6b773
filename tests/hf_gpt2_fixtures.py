"""Session fixtures for the Hugging Face GPT-2 tests: directories written by the real libraries.

`tokenizers` trains a byte-level BPE on CPython's own documentation (`pydoc_data.topics`, which
ships with Python), and `transformers` saves a small GPT2LMHeadModel with `save_pretrained`, once
as one `model.safetensors` and once in shards with `model.safetensors.index.json`. Every tensor
is drawn at random, the LayerNorm scales and every bias included, so a tensor loaded into the
wrong place changes the logits. Nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from pydoc_data.topics import topics

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ENDOFTEXT = "<|endoftext|>"
VOCAB_SIZE = 1000
TRAIN_CHARS = 250_000
SHAPE = dict(n_embd=32, n_layer=2, n_head=4, n_positions=512)


@dataclass(frozen=True)
class GPT2Files:
    directory: Path  # config.json, model.safetensors, tokenizer.json, tokenizer_config.json
    sharded: Path  # the same model in shards, without a tokenizer
    text: str  # real text the tokenizer was not trained on

    def transformers_model(self, directory: Path | None = None) -> object:
        from transformers import GPT2LMHeadModel

        return GPT2LMHeadModel.from_pretrained(directory or self.directory).eval()

    def transformers_tokenizer(self) -> object:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(self.directory)


@contextlib.contextmanager
def transformers_warnings() -> Iterator[list[str]]:
    """Every warning transformers logs (its own handler, not the root logger's) or raises
    inside the block, e.g. weights it did not find in a file or found unexpectedly."""
    caught: list[str] = []

    class Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            caught.append(record.getMessage())

    recorder = Recorder(logging.WARNING)
    logger = logging.getLogger("transformers")
    logger.addHandler(recorder)
    try:
        with warnings.catch_warnings(record=True) as raised:
            warnings.simplefilter("always")
            yield caught
        caught.extend(str(w.message) for w in raised)
    finally:
        logger.removeHandler(recorder)


def random_gpt2(**config: object) -> object:
    """A GPT2LMHeadModel of SHAPE (or `config`) with every tensor drawn from torch's seed 0."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    settings = dict(SHAPE, vocab_size=VOCAB_SIZE, bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(GPT2Config(**{**settings, **config}))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.normal_(0.0, 0.1)
            if ".ln_" in name and name.endswith("weight"):
                parameter.add_(1.0)
    return model.eval()


@pytest.fixture(scope="session")
def gpt2_files(tmp_path_factory: pytest.TempPathFactory) -> GPT2Files:
    from tokenizers.implementations import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    text = "".join(topics[key] for key in sorted(topics))
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        [text[:TRAIN_CHARS]], vocab_size=VOCAB_SIZE, special_tokens=[ENDOFTEXT],
        show_progress=False,
    )
    root = tmp_path_factory.mktemp("gpt2")
    directory, sharded = root / "gpt2", root / "sharded"
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=trainer._tokenizer, bos_token=ENDOFTEXT, eos_token=ENDOFTEXT
    )
    tokenizer.save_pretrained(directory)
    model = random_gpt2()
    model.save_pretrained(directory)
    model.save_pretrained(sharded, max_shard_size="40KB")
    return GPT2Files(directory, sharded, text[TRAIN_CHARS:])
