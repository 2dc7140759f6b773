"""Fixtures for the inspection tests: small GPTs with every position scheme, tokenizers, runs.

Models are GPT(vocab, embed 16, 2 layers, 2 heads, max_seq_len 16); the runs are the `test`
preset trained for 3 steps (a second or two each), made once per session.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tinytorch import train
from tinytorch.core.random import manual_seed
from tinytorch.models.transformer import GPT
from tinytorch.text.tokenization import CharTokenizer

POSITION_SCHEMES = ["learned", "sinusoidal", "rope", "alibi", "none"]
TEXT = "the cat sat on the mat.\nthe dog ate the hat!\n" * 8


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def char_tokenizer() -> CharTokenizer:
    return CharTokenizer.from_text(TEXT)


@pytest.fixture
def make_gpt() -> Callable[..., GPT]:
    """make_gpt(vocab_size, pos_encoding, seed=0, tie_weights=True): a small untrained GPT."""

    def make(vocab_size: int, pos_encoding: str, seed: int = 0, **kwargs) -> GPT:
        manual_seed(seed)
        return GPT(vocab_size, 16, 2, 2, 16, pos_encoding=pos_encoding, **kwargs)

    return make


def _trained(directory: Path, **options) -> Path:
    train.run(
        str(directory), preset="test", steps=3, eval_interval=3, echo=lambda line: None, **options
    )
    return directory


@pytest.fixture(scope="session")
def char_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _trained(tmp_path_factory.mktemp("char") / "run")


@pytest.fixture(scope="session")
def bpe_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _trained(tmp_path_factory.mktemp("bpe") / "run", tokenizer="bpe")
