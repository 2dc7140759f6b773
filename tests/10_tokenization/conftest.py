"""Session fixtures for the interop tests: real text, and tokenizer files written by the real
libraries (Hugging Face `tokenizers`, tiktoken's rank format), built locally, never downloaded.

The text is CPython's own documentation (`pydoc_data.topics`, ~465k characters shipped with
the standard library): the first TRAIN_CHARS train the Hugging Face tokenizer, the rest is the
text the libraries are compared on.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from pydoc_data.topics import topics

import pytest
from tokenizers import Tokenizer as HFTokenizer
from tokenizers.implementations import ByteLevelBPETokenizer
from transformers.convert_slow_tokenizer import bytes_to_unicode

TRAIN_CHARS = 250_000
HF_VOCAB_SIZE = 2000
ENDOFTEXT = "<|endoftext|>"


@dataclass(frozen=True)
class HFTrained:
    """A byte-level BPE trained by `tokenizers`, saved in both of Hugging Face's formats."""

    tokenizer: HFTokenizer
    json_dir: Path  # tokenizer.json
    gpt2_dir: Path  # vocab.json + merges.txt
    rank_file: Path  # the same tokens in tiktoken's format, rank = Hugging Face's id


@pytest.fixture(scope="session")
def pydoc_text() -> tuple[str, str]:
    """(training text, comparison text): two disjoint parts of the standard library's docs."""
    text = "".join(topics[key] for key in sorted(topics))
    return text[:TRAIN_CHARS], text[TRAIN_CHARS:]


@pytest.fixture(scope="session")
def compare_text(pydoc_text: tuple[str, str]) -> str:
    """The comparison text with `<|endoftext|>` between its documents, as in GPT-2's data."""
    return pydoc_text[1].replace("\n\n\n", f"\n{ENDOFTEXT}\n")


@pytest.fixture(scope="session")
def hf_trained(tmp_path_factory: pytest.TempPathFactory, pydoc_text: tuple[str, str]) -> HFTrained:
    root = tmp_path_factory.mktemp("hf")
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(
        [pydoc_text[0]], vocab_size=HF_VOCAB_SIZE, special_tokens=[ENDOFTEXT], show_progress=False
    )
    json_dir, gpt2_dir = root / "json", root / "gpt2"
    json_dir.mkdir()
    gpt2_dir.mkdir()
    trainer.save(str(json_dir / "tokenizer.json"))
    trainer.save_model(str(gpt2_dir))
    tokenizer = HFTokenizer.from_file(str(json_dir / "tokenizer.json"))

    to_byte = {ch: b for b, ch in bytes_to_unicode().items()}
    rank_file = root / "pydoc.tiktoken"
    lines = [
        f"{base64.b64encode(bytes(to_byte[ch] for ch in token)).decode()} {token_id}\n"
        for token, token_id in sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
        if token != ENDOFTEXT
    ]
    rank_file.write_text("".join(lines), encoding="ascii")
    return HFTrained(tokenizer, json_dir, gpt2_dir, rank_file)
