"""Tokenizers: text <-> int64 token ids (the public import path).

`CharTokenizer` maps characters to ids; `BPETokenizer` is byte-level BPE in the GPT-2 style.
Both share the `Tokenizer` base (batching into an `Encoding`, versioned JSON files), which
lives in `tokenizer_base.py` so the tokenizer modules can import it without a cycle.
"""

from tinytorch.text.bpe import BPETokenizer
from tinytorch.text.char_tokenizer import CharTokenizer
from tinytorch.text.tokenizer_base import Encoding, Tokenizer

__all__ = ["BPETokenizer", "CharTokenizer", "Encoding", "Tokenizer"]
