"""Character-level tokenizer: one id per Unicode code point, vectorised with numpy."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinytorch.text.hf_tokenizer_files import read_pretrained_char_level, write_char_level
from tinytorch.text.tokenizer_base import Tokenizer, check_text

SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>")


class CharTokenizer(Tokenizer, type_name="char"):
    """Maps each character of a fixed alphabet to an id.

    Fixed ids: `<pad>`=0, `<unk>`=1, `<bos>`=2, `<eos>`=3; the alphabet follows from id 4 in
    code-point order, so the same alphabet always yields the same ids. A character outside the
    alphabet encodes to `<unk>` (never dropped, so positions still line up with the text).

    `decode(ids)` skips `<pad>`, `<bos>` and `<eos>` and renders `<unk>` as U+FFFD (the Unicode
    replacement character, since the original character is lost). With
    `skip_special_tokens=False` every special id renders as its literal name, e.g. ``"<eos>"``.
    For any string made of alphabet characters `decode(encode(s)) == s` exactly.
    """

    pad_id = 0
    unk_id = 1
    bos_id = 2
    eos_id = 3

    def __init__(self, chars: Iterable[str]) -> None:
        """Build from an alphabet (any iterable of single characters; a str works)."""
        alphabet = set()
        for ch in chars:
            if not isinstance(ch, str) or len(ch) != 1:
                raise ValueError(f"alphabet entries must be single characters, got {ch!r}")
            alphabet.add(ch)
        self._chars = sorted(alphabet)
        self._tokens = list(SPECIAL_TOKENS) + self._chars
        self._skip_table = ["", "\ufffd", "", ""] + self._chars
        codes = np.array([ord(c) for c in self._chars], dtype=np.int64)
        # Lookup table indexed by code point; its last slot stands for "any larger code point".
        size = int(codes.max()) + 2 if len(codes) else 1
        self._lut = np.full(size, self.unk_id, dtype=np.int64)
        self._lut[codes] = np.arange(len(SPECIAL_TOKENS), len(self._tokens))

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """Build the alphabet from every distinct character of a corpus."""
        check_text(text)
        return cls(chr(c) for c in np.unique(_code_points(text)).tolist())

    @property
    def vocab_size(self) -> int:
        return len(self._tokens)

    @property
    def special_tokens(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(SPECIAL_TOKENS)}

    @property
    def chars(self) -> list[str]:
        """The alphabet in id order (ids 4, 5, ...)."""
        return list(self._chars)

    def encode(self, text: str) -> list[int]:
        return self.encode_array(text).tolist()

    def encode_array(self, text: str) -> np.ndarray:
        check_text(text)
        codes = _code_points(text)
        return self._lut[np.minimum(codes, len(self._lut) - 1)]

    def decode(self, ids: Any, skip_special_tokens: bool = True) -> str:
        table = self._skip_table if skip_special_tokens else self._tokens
        return "".join([table[i] for i in self._check_ids(ids).tolist()])

    def save_pretrained(self, out_dir: str | os.PathLike[str]) -> None:
        """Write `tokenizer.json` (a WordLevel model over single characters), plus
        `tokenizer_config.json` and `special_tokens_map.json`, for Hugging Face's
        `AutoTokenizer.from_pretrained(out_dir)`.

        It gives the same ids, unknown characters -> `<unk>` included, and the same
        `decode(ids, skip_special_tokens=False)`. Like every Hugging Face tokenizer, it matches
        the special tokens' names in the text, so a text containing "<eos>" gets id 3 there and
        five characters' ids here.
        """
        write_char_level(out_dir, self._tokens, self.special_tokens)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str]) -> CharTokenizer:
        """Load what `save_pretrained` wrote (a directory or its tokenizer.json): the same ids.
        Any other WordLevel file, or one edited out of that shape, raises ValueError naming it."""
        vocab = read_pretrained_char_level(path)
        try:
            return cls._from_dict({"vocab": vocab})
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None

    def _to_dict(self) -> dict[str, Any]:
        return {"vocab": {token: i for i, token in enumerate(self._tokens)}}

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> CharTokenizer:
        vocab = data.get("vocab")
        if not isinstance(vocab, dict):
            raise ValueError("'vocab' must be an object mapping token -> id")
        tokens = _tokens_by_id(vocab)
        if tuple(tokens[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError(f"ids 0..3 must be the special tokens {list(SPECIAL_TOKENS)}")
        tokenizer = cls(tokens[len(SPECIAL_TOKENS) :])
        if tokenizer._tokens != tokens:
            raise ValueError("characters are not in code-point order")
        return tokenizer

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


def _code_points(text: str) -> np.ndarray:
    # surrogatepass: a lone surrogate is still one code point, so it can be tokenized too.
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _tokens_by_id(vocab: dict[str, Any]) -> list[str]:
    """Invert token -> id, insisting the ids are exactly 0..n-1."""
    by_id: dict[int, str] = {}
    for token, i in vocab.items():
        if isinstance(i, bool) or not isinstance(i, int):
            raise ValueError(f"id of token {token!r} must be an integer, got {i!r}")
        if i in by_id:
            raise ValueError(f"id {i} is used by both {by_id[i]!r} and {token!r}")
        by_id[i] = token
    if sorted(by_id) != list(range(len(by_id))):
        missing = sorted(set(range(len(by_id))) - set(by_id))
        last = len(by_id) - 1
        raise ValueError(f"token ids are not contiguous 0..{last} (missing {missing[:10]})")
    return [by_id[i] for i in range(len(by_id))]
