"""What every tokenizer shares: id checking, batch encoding with padding, and the file format.

Kept apart from `tokenization.py` (the public import path, which re-exports everything) so the
concrete tokenizers can import this module without a circular import.
"""

from __future__ import annotations

import json
import numbers
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np

from tinytorch.core.errors import IndexOutOfRangeError
from tinytorch.files import atomic_write_bytes, parse_json, read_bytes

FILE_FORMAT = "tinytorch.tokenizer"
FILE_VERSION = 2  # the newest; every older version is still read
# Bound on any tokenizer file read (ours, Hugging Face's, tiktoken's), checked while reading:
# real ones are a few MB (GPT-2's tokenizer.json 1.4 MB, Llama 3's 9 MB), and parsing JSON can
# take ~28 times the file's size in memory (a file of nothing but empty lists: 0.9 GB).
MAX_FILE_BYTES = 32 * 2**20

T = TypeVar("T", bound="Tokenizer")


@dataclass(frozen=True, eq=False)
class Encoding:
    """A padded batch of token ids, ready to become an int64 tensor.

    `attention_mask` follows the PyTorch/HuggingFace convention: True marks a real token, False
    marks padding. `lengths[i]` is the number of real tokens in row i (padding is on the right).
    """

    ids: np.ndarray
    attention_mask: np.ndarray
    lengths: np.ndarray


class Tokenizer(ABC):
    """Base class: text <-> int64 token ids, batching, and versioned JSON files.

    Subclasses register a file `type_name` (``class Foo(Tokenizer, type_name="foo")``) so that
    `Tokenizer.load` can rebuild whichever tokenizer a file holds.
    """

    pad_id: int | None = None
    unk_id: int | None = None
    bos_id: int | None = None
    eos_id: int | None = None

    _registry: ClassVar[dict[str, type[Tokenizer]]] = {}
    _type_name: ClassVar[str]

    def __init_subclass__(cls, type_name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if type_name is not None:
            cls._type_name = type_name
            Tokenizer._registry[type_name] = cls

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of ids; valid ids are `0 .. vocab_size - 1`."""

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Token ids of `text`."""

    @abstractmethod
    def encode_array(self, text: str) -> np.ndarray:
        """Token ids of `text` as a 1-D int64 array (the fast path for whole corpora)."""

    @abstractmethod
    def decode(self, ids: Any, skip_special_tokens: bool = True) -> str:
        """Text of a 1-D sequence of ids (list, numpy array, or anything with `__array__`).

        Each tokenizer documents how it renders special ids and its default for
        `skip_special_tokens`.
        """

    @abstractmethod
    def _to_dict(self) -> dict[str, Any]:
        """The tokenizer-specific part of the saved JSON."""

    @classmethod
    @abstractmethod
    def _from_dict(cls: type[T], data: dict[str, Any]) -> T:
        """Rebuild from `_to_dict` output; raise ValueError saying what is inconsistent."""

    @property
    @abstractmethod
    def special_tokens(self) -> dict[str, int]:
        """Special-token name -> id."""

    def encode_batch(
        self,
        texts: Sequence[str],
        max_length: int | None = None,
        padding: Literal["longest", "max_length"] | bool = "longest",
        truncation: bool = False,
        add_bos: bool = False,
        add_eos: bool = False,
    ) -> Encoding:
        """Encode several texts into one right-padded `(batch, L)` int64 array plus a mask.

        Follows HuggingFace: `padding="longest"` (or True) pads to the longest row,
        `"max_length"` pads to `max_length`, False requires equal lengths. `max_length` is a hard
        limit in every mode: a longer row raises unless `truncation=True`, which keeps the first
        tokens and still adds bos/eos. Text is never cut silently.
        """
        if isinstance(texts, str):
            raise TypeError("encode_batch expects a sequence of strings, not a single str")
        if padding is True:
            padding = "longest"
        if padding not in ("longest", "max_length", False):
            raise ValueError(f"padding must be 'longest', 'max_length' or False, got {padding!r}")
        if max_length is not None and (
            not isinstance(max_length, numbers.Integral) or isinstance(max_length, bool)
        ):
            raise TypeError(f"max_length must be an int or None, got {max_length!r}")
        if max_length is not None and max_length < 0:
            raise ValueError(f"max_length must be >= 0, got {max_length}")
        if max_length is None and (padding == "max_length" or truncation):
            need = "padding='max_length'" if padding == "max_length" else "truncation=True"
            raise ValueError(f"{need} needs max_length")
        prefix = [self._required_id("bos_id")] if add_bos else []
        suffix = [self._required_id("eos_id")] if add_eos else []
        n_special = len(prefix) + len(suffix)
        if max_length is not None and max_length < n_special:
            raise ValueError(f"max_length={max_length} leaves no room for the bos/eos tokens")

        rows = []
        for i, text in enumerate(texts):
            body = self.encode(text)
            n = len(body) + n_special
            if max_length is not None and n > max_length:
                if not truncation:
                    raise ValueError(
                        f"text {i} has {n} tokens, more than max_length={max_length}; "
                        "pass truncation=True to cut it"
                    )
                body = body[: max_length - n_special]
            rows.append(prefix + body + suffix)

        lengths = np.array([len(r) for r in rows], dtype=np.int64)
        if padding == "max_length":
            width = int(max_length)
        else:
            width = int(lengths.max()) if len(rows) else 0
            if padding is False and len(rows) and lengths.min() != width:
                short = int(np.argmin(lengths))
                raise ValueError(
                    f"padding=False needs equal lengths, but text {short} has "
                    f"{lengths[short]} tokens and text {int(np.argmax(lengths))} has {width}"
                )
        pad = self.pad_id
        if pad is None and len(rows) and lengths.min() < width:
            raise ValueError(f"{type(self).__name__} has no pad token, so it cannot pad")
        ids = np.full((len(rows), width), pad if pad is not None else 0, dtype=np.int64)
        for r, row in enumerate(rows):
            ids[r, : len(row)] = row
        mask = np.arange(width) < lengths[:, None]
        return Encoding(ids=ids, attention_mask=mask, lengths=lengths)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the tokenizer as versioned JSON, atomically (a crash never leaves half a file)."""
        payload = {"format": FILE_FORMAT, "version": self._file_version(), "type": self._type_name}
        payload.update(self._to_dict())
        # ensure_ascii keeps any code point (even a lone surrogate) representable in the file.
        atomic_write_bytes(path, json.dumps(payload, ensure_ascii=True).encode("ascii"))

    @classmethod
    def load(cls: type[T], path: str | os.PathLike[str]) -> T:
        """Read a file written by `save`. `Tokenizer.load` returns whichever kind the file holds.

        Raises FileNotFoundError for a missing file and ValueError, naming the path and the
        problem, for anything that is not a consistent tokenizer file of a supported version.
        """
        return cls.from_bytes(read_file_bytes(path), path)

    @classmethod
    def from_bytes(cls: type[T], raw: bytes, path: str | os.PathLike[str]) -> T:
        """`load` of a file already read (`path` names it in errors): a caller that also hashes
        the file checks the very bytes it parses."""
        data = parse_json(raw, path, object_pairs_hook=_reject_duplicate_keys)
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
            raise ValueError(f"{path}: not a tinytorch tokenizer file (no format {FILE_FORMAT!r})")
        version = data.get("version")
        if type(version) is not int or not 1 <= version <= FILE_VERSION:
            raise ValueError(
                f"{path}: unsupported tokenizer file version {version!r} "
                f"(this tinytorch reads versions up to {FILE_VERSION})"
            )
        kind = data.get("type")
        target = Tokenizer._registry.get(kind) if isinstance(kind, str) else None
        if target is None:
            known = sorted(Tokenizer._registry)
            raise ValueError(f"{path}: unknown tokenizer type {kind!r} (known: {known})")
        if not issubclass(target, cls):
            raise ValueError(f"{path}: holds a {kind!r} tokenizer, not a {cls.__name__}")
        try:
            return target._from_dict(data)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{path}: inconsistent tokenizer file: {e}") from e

    def _file_version(self) -> int:
        """The oldest file version that holds this tokenizer, so older tinytorch can read it."""
        return 1

    def _check_ids(self, ids: Any) -> np.ndarray:
        """Validate ids at the boundary and return them as a 1-D int64 array."""
        try:
            arr = np.asarray(ids)
        except ValueError:  # numpy's words for nested lists of unequal lengths
            raise ValueError(
                "decode expects a 1-D sequence of ids, got nested sequences of unequal lengths"
            ) from None
        if arr.ndim > 1:
            raise ValueError(f"decode expects a 1-D sequence of ids, got shape {arr.shape}")
        arr = arr.reshape(-1)
        if arr.size == 0 and isinstance(ids, (list, tuple, range)):
            return np.zeros(0, dtype=np.int64)  # an empty list has no element type to check
        n = self.vocab_size
        if arr.dtype.kind == "f" and not isinstance(ids, np.ndarray):
            exact = np.array(ids, dtype=object).reshape(-1)  # NumPy makes float64 of a list
            if all(isinstance(x, numbers.Integral) for x in exact):  # mixing int64 and uint64
                arr = exact
        if arr.dtype == object:  # e.g. Python ints too large for int64
            for pos, x in enumerate(arr):
                if isinstance(x, bool) or not isinstance(x, numbers.Integral):
                    raise TypeError(f"token ids must be integers, got {x!r} at position {pos}")
                if not 0 <= x < n:
                    raise IndexOutOfRangeError(
                        f"token id {x} at position {pos} is out of range [0, {n})"
                    )
            return arr.astype(np.int64)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"token ids must be integers, got dtype {arr.dtype}")
        bad = (arr < 0) | (arr >= n)
        if bad.any():
            pos = int(np.argmax(bad))
            raise IndexOutOfRangeError(
                f"token id {arr[pos]} at position {pos} is out of range [0, {n})"
            )
        return arr.astype(np.int64, copy=False)

    def _required_id(self, name: str) -> int:
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"{type(self).__name__} has no {name[:-3]} token")
        return value


def check_text(text: Any) -> None:
    """Reject non-strings early; bytes would otherwise fail deep inside with a vague error."""
    if not isinstance(text, str):
        raise TypeError(f"text must be str, got {type(text).__name__}")


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads silently keeps the last of duplicate keys; in a vocabulary that hides a bug.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate token/key {key!r}")
        out[key] = value
    return out


def read_file_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a tokenizer file; one larger than MAX_FILE_BYTES is refused, not read whole."""
    return read_bytes(path, limit=MAX_FILE_BYTES)


def read_json_file(path: str | os.PathLike[str]) -> Any:
    """Parse a (bounded) JSON file strictly: UTF-8, no duplicate keys, not nested too deeply."""
    return parse_json(read_file_bytes(path), path, object_pairs_hook=_reject_duplicate_keys)
