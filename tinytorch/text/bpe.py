"""Byte-level byte-pair encoding (GPT-2 style): training with incremental pair counts, encoding
with a per-chunk cache, and loading and writing the files of Hugging Face and tiktoken.

Ids versus bytes: a token *is* a byte string, and its id is only a number naming it. A tokenizer
trained here numbers its tokens the simple way: ids 0..255 are the raw bytes, merge i creates id
256 + i, and the special tokens follow. Files from elsewhere number them their own way: GPT-2
permutes the 256 byte tokens and puts `<|endoftext|>` at 50256, tiktoken's id of a token is its
rank, a Hugging Face-trained BPE puts its special tokens first. So a tokenizer holds three
tables, the id of each byte (`byte_ids`), of the token each merge creates (`merge_ids`) and of
each special token, and encodes the same way whatever the numbering: text -> UTF-8 bytes ->
their ids, then the adjacent pair whose merge ranks lowest is merged, until none is left. An id
no token has (a gap, as tiktoken vocabularies have) counts in `vocab_size` (the largest id + 1)
but cannot be decoded.
"""

from __future__ import annotations

import heapq
import os
import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import regex

# MAX_MERGED_BYTES is re-exported: users and docs know it as bpe.MAX_MERGED_BYTES.
from tinytorch.text.bpe_ids import MAX_MERGED_BYTES as MAX_MERGED_BYTES
from tinytorch.text.bpe_ids import (
    ROLES,
    check_byte_ids,
    check_roles,
    check_special_ids,
    spell_merges,
)
from tinytorch.text.hf_tokenizer_files import read_pretrained_bpe, write_byte_level_bpe
from tinytorch.text.split_patterns import PATTERNS
from tinytorch.text.tiktoken_files import read_tiktoken_bpe
from tinytorch.text.tokenizer_base import Tokenizer, check_text

PatternName = Literal["gpt4", "gpt2", "o200k"]
DEFAULT_SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>")
_CACHED_CHUNK_CHARS = 256  # longer chunks (rare, or pattern=None) are not worth caching
_CACHE_ENTRIES = 100_000


class BPETokenizer(Tokenizer, type_name="bpe"):
    """Byte-level BPE: every string is encodable, and `decode(encode(s)) == s` for all of them.

    Trained here, ids 0..255 are raw bytes, merge i creates id 256 + i, and the special tokens
    come after the merges; loaded from a file, ids are whatever the file says (module
    docstring). `<pad>` is registered in every tokenizer trained here (batch padding needs it);
    `<unk>` may be registered but is never produced, since every byte has an id.

    Special-token policy: by default `encode` treats special-token strings in the text as
    ordinary characters, so user text can never inject control tokens. Pass
    `allowed_special="all"` or a set of names to encode those strings to their special ids.
    `decode` renders special ids as their names unless `skip_special_tokens=True`, which drops
    them (and renders `<unk>` as U+FFFD, as CharTokenizer does). Ids that form invalid UTF-8
    decode with U+FFFD replacements rather than raising.

    The same vocabulary gives the same ids as the other libraries, as follows:

    - `encode(text)` == tiktoken's `encode_ordinary(text)` (tiktoken's `encode(text)` instead
      raises if the text contains a special token's string);
    - `encode(text, allowed_special="all")` == tiktoken's `encode(text, allowed_special="all")`
      == Hugging Face tokenizers' `encode(text).ids` and transformers' `tokenizer(text)`, which
      always match added tokens in the text (longest match first, as here);
    - `decode(ids)` == tiktoken's `decode(ids)`, and `decode(ids, skip_special_tokens=s)` ==
      Hugging Face's with the same `s` (whose default is True in tokenizers, False in
      transformers).

    Texts containing lone surrogates are not UTF-8 and raise ValueError.
    """

    def __init__(
        self,
        merges: Sequence[tuple[int, int]],
        special_tokens: Sequence[str] | Mapping[str, int] = DEFAULT_SPECIAL_TOKENS,
        pattern: PatternName | None = "gpt4",
        *,
        byte_ids: Sequence[int] | None = None,
        merge_ids: Sequence[int] | None = None,
        roles: Mapping[str, str] | None = None,
    ) -> None:
        """Build from merges (pairs of token ids) in rank order, as produced by `train`.

        By default byte b has id b, merge i creates id 256 + i, and `special_tokens`, a sequence
        of names that must include `<pad>`, get the ids after the merges'. For a vocabulary
        numbered otherwise pass `byte_ids` (the id of each byte 0..255), `merge_ids` (the id of
        the token each merge creates; two merges may create the same token, as Hugging Face's
        trainer sometimes makes them) and `special_tokens` as a name -> id mapping. `roles`
        names the special tokens that pad, begin and end a sequence (`pad_id`, `bos_id`,
        `eos_id`), e.g. {"bos": "<|endoftext|>", "eos": "<|endoftext|>"}; a role not given is
        taken by `<pad>`, `<bos>` or `<eos>` if present.
        """
        self._split = _compile_pattern(pattern)
        self.pattern = pattern
        self._byte_ids = check_byte_ids(byte_ids)
        tokens, self._ranks, self._merge_ids = spell_merges(self._byte_ids, merges, merge_ids)
        if isinstance(special_tokens, Mapping):
            self._special_ids = check_special_ids(special_tokens, tokens)
        else:
            specials = _check_special_tokens(special_tokens)
            if "<pad>" not in specials:
                raise ValueError("special_tokens must include '<pad>' (encode_batch pads with it)")
            first = max(tokens) + 1
            self._special_ids = {name: first + j for j, name in enumerate(specials)}
        self._roles = check_roles(roles, self._special_ids)
        self.pad_id, self.bos_id, self.eos_id = (
            self._special_ids[self._roles[role]] if role in self._roles else None for role in ROLES
        )
        self.unk_id = self._special_ids.get("<unk>")
        size = 1 + max([*tokens, *self._special_ids.values()])
        self._render: list[bytes | None] = [None] * size
        for token_id, token in tokens.items():
            self._render[token_id] = token
        self._render_skip = list(self._render)
        for name, token_id in self._special_ids.items():
            self._render[token_id] = name.encode("utf-8")
            self._render_skip[token_id] = "\ufffd".encode() if name == "<unk>" else b""
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def train(
        cls,
        text: str,
        vocab_size: int,
        pattern: PatternName | None = "gpt4",
        special_tokens: Sequence[str] = DEFAULT_SPECIAL_TOKENS,
    ) -> BPETokenizer:
        """Learn merges from `text` until `vocab_size` = 256 bytes + merges + special tokens.

        `pattern` pre-splits the text with the GPT-2, GPT-4 (cl100k) or o200k regex; None treats
        the text as one sequence, which suits toy examples but is slow on big corpora: every
        merge then rewrites that one sequence in training, and encoding rescans it per applied
        merge. Ties in pair frequency go to the smallest pair of ids, so training is
        deterministic. Training stops early if no pair is left to merge.
        """
        check_text(text)
        specials = _check_special_tokens(special_tokens)
        if "<pad>" not in specials:
            specials.insert(0, "<pad>")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
            raise TypeError(f"vocab_size must be an int, got {vocab_size!r}")
        if vocab_size < 256 + len(specials):
            raise ValueError(
                f"vocab_size={vocab_size} is too small: need >= {256 + len(specials)} "
                f"(256 bytes + {len(specials)} special tokens)"
            )
        split = _compile_pattern(pattern)
        chunks = Counter(split.findall(text) if split is not None else [text])
        try:
            merges = _learn_merges(chunks, vocab_size - 256 - len(specials))
        except UnicodeEncodeError:
            raise ValueError(_not_utf8_message(text)) from None
        return cls(merges, specials, pattern)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str]) -> BPETokenizer:
        """Load a Hugging Face byte-level BPE: a directory or a `tokenizer.json`, or GPT-2's
        `vocab.json` + `merges.txt` (a directory holding them, or either file).

        The model must be a byte-level BPE (a ByteLevel pre-tokenizer, alone or after a Split on
        one of the known patterns), with no normalizer. Added tokens become special tokens at
        their ids; with vocab.json, `<|endoftext|>` and the tokens named in
        `special_tokens_map.json` / `tokenizer_config.json` do. Those files' bos/eos/pad tokens
        become `roles` (bos and eos default to `<|endoftext|>`, as in GPT-2). Anything else
        (WordPiece, Unigram, `add_prefix_space`, an unknown regex) raises ValueError naming it;
        a missing file raises FileNotFoundError.
        """
        return cls._from_file(path, read_pretrained_bpe(path))

    @classmethod
    def from_tiktoken(
        cls,
        path: str | os.PathLike[str],
        pattern: PatternName | None = "gpt4",
        special_tokens: Mapping[str, int] | None = None,
    ) -> BPETokenizer:
        """Load a tiktoken rank file (lines `base64(token) rank`; a token's id is its rank).

        `pattern` is the split the encoding uses: "gpt2" for r50k/p50k, "gpt4" for cl100k,
        "o200k" for o200k. `special_tokens` maps names to ids, e.g. {"<|endoftext|>": 100257}.
        The merges are recovered from the ranks as minbpe's `recover_merges` does (each token
        is the merge of the two pieces BPE with lower ranks leaves of it), which encodes
        exactly as tiktoken does.
        """
        _compile_pattern(pattern)
        if special_tokens is None:
            special_tokens = {}
        if not isinstance(special_tokens, Mapping):
            raise TypeError(
                f"special_tokens must map names to ids, e.g. {{'<|endoftext|>': 100257}}, got "
                f"{type(special_tokens).__name__}"
            )
        tables = read_tiktoken_bpe(path)
        return cls._from_file(
            path, {**tables, "special_tokens": special_tokens, "pattern": pattern}
        )

    @classmethod
    def _from_file(cls, path: str | os.PathLike[str], kwargs: dict[str, Any]) -> BPETokenizer:
        try:
            return cls(**kwargs)
        except ValueError as e:  # the tables are inconsistent: say which file holds them
            raise ValueError(f"{path}: {e}") from None

    def save_pretrained(self, out_dir: str | os.PathLike[str]) -> None:
        """Write `tokenizer.json`, `tokenizer_config.json` and `special_tokens_map.json` into
        `out_dir` (created if missing): Hugging Face's `AutoTokenizer.from_pretrained(out_dir)`
        and `from_pretrained(out_dir)` load them and give the same ids."""
        specials = set(self._special_ids.values())
        tokens = {
            i: token
            for i, token in enumerate(self._render)
            if token is not None and i not in specials
        }
        write_byte_level_bpe(
            out_dir, tokens, self.merges, self._special_ids, self.pattern, self._roles
        )

    @property
    def vocab_size(self) -> int:
        return len(self._render)

    @property
    def special_tokens(self) -> dict[str, int]:
        return dict(self._special_ids)

    @property
    def merges(self) -> list[tuple[int, int]]:
        """Merged pairs in rank order; merge i creates the token `merge_ids[i]`."""
        return list(self._ranks)

    @property
    def merge_ids(self) -> list[int]:
        """The id of the token each merge creates, in rank order."""
        return list(self._merge_ids)

    @property
    def byte_ids(self) -> list[int]:
        """The id of each byte value 0..255."""
        return list(self._byte_ids)

    @property
    def roles(self) -> dict[str, str]:
        """Which special token pads, begins and ends sequences: role -> name."""
        return dict(self._roles)

    def encode(self, text: str, allowed_special: Collection[str] | str = ()) -> list[int]:
        """Token ids of `text`; see the class docstring for `allowed_special`."""
        check_text(text)
        allowed = self._allowed_special(allowed_special)
        try:
            if not allowed:
                return self._encode_ordinary(text)
            # A capturing split puts the special tokens at the odd positions.
            names = sorted(allowed, key=len, reverse=True)  # longest match wins
            parts = re.split("(" + "|".join(map(re.escape, names)) + ")", text)
            ids: list[int] = []
            for k, part in enumerate(parts):
                if k % 2:
                    ids.append(self._special_ids[part])
                else:
                    ids.extend(self._encode_ordinary(part))
            return ids
        except UnicodeEncodeError:
            raise ValueError(_not_utf8_message(text)) from None

    def encode_array(self, text: str, allowed_special: Collection[str] | str = ()) -> np.ndarray:
        return np.array(self.encode(text, allowed_special), dtype=np.int64)

    def decode(self, ids: Any, skip_special_tokens: bool = False) -> str:
        return self.decode_bytes(ids, skip_special_tokens).decode("utf-8", errors="replace")

    def decode_bytes(self, ids: Any, skip_special_tokens: bool = False) -> bytes:
        """The bytes the ids stand for, special tokens as their UTF-8 names (tiktoken's
        `decode_bytes`): a token may hold part of a character, so text shown as it is generated
        must be decoded from these, incrementally (`tinytorch.text.stream_decoder`)."""
        table = self._render_skip if skip_special_tokens else self._render
        checked = self._check_ids(ids).tolist()
        try:
            return b"".join([table[i] for i in checked])
        except TypeError:  # a None: an id between the tokens' ids that no token has
            pos = next(pos for pos, i in enumerate(checked) if table[i] is None)
            raise ValueError(
                f"token id {checked[pos]} at position {pos} has no token: it is a gap in this "
                f"vocabulary of {self.vocab_size} ids"
            ) from None

    def _allowed_special(self, allowed: Collection[str] | str) -> Collection[str]:
        if allowed == "all":
            return self._special_ids.keys()
        if isinstance(allowed, str):
            raise ValueError(
                f"allowed_special must be 'all' or a collection of names, got {allowed!r}"
            )
        unknown = [name for name in allowed if name not in self._special_ids]
        if unknown:
            raise ValueError(f"unknown special tokens {unknown}; known: {list(self._special_ids)}")
        return allowed

    def _encode_ordinary(self, text: str) -> list[int]:
        chunks = self._split.findall(text) if self._split is not None else [text]
        cache = self._cache
        ids: list[int] = []
        for chunk in chunks:
            chunk_ids = cache.get(chunk)
            if chunk_ids is None:
                chunk_ids = self._bpe(chunk)
                if len(chunk) <= _CACHED_CHUNK_CHARS:
                    if len(cache) >= _CACHE_ENTRIES:
                        cache.clear()
                    cache[chunk] = chunk_ids
            ids.extend(chunk_ids)
        return ids

    def _bpe(self, chunk: str) -> list[int]:
        """Apply merges to one chunk, always the lowest-rank (earliest learned) pair first."""
        byte_ids = self._byte_ids
        ids = [byte_ids[b] for b in chunk.encode("utf-8")]
        ranks, merge_ids = self._ranks, self._merge_ids
        while len(ids) >= 2:
            pair = min(pairwise(ids), key=lambda p: ranks.get(p, _NEVER))
            rank = ranks.get(pair)
            if rank is None:
                break
            ids = _merge_pair(ids, pair, merge_ids[rank])
        return ids

    def _file_version(self) -> int:
        # Version 1 holds the numbering of a tokenizer trained here; others need version 2.
        first = 256 + len(self._ranks)
        trained_here = (
            self._byte_ids == list(range(256))
            and self._merge_ids == list(range(256, first))
            and sorted(self._special_ids.values()) == list(range(first, self.vocab_size))
            and "<pad>" in self._special_ids
            and self._roles == check_roles(None, self._special_ids)
        )
        return 1 if trained_here else 2

    def _to_dict(self) -> dict[str, Any]:
        data = {
            "pattern": self.pattern,
            "merges": [list(pair) for pair in self._ranks],
            "special_tokens": dict(self._special_ids),
        }
        if self._file_version() == 2:
            data.update(byte_ids=self.byte_ids, merge_ids=self.merge_ids, roles=self.roles)
        return data

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> BPETokenizer:
        pattern, merges, specials = (data.get(k) for k in ("pattern", "merges", "special_tokens"))
        if pattern is not None and pattern not in PATTERNS:
            raise ValueError(f"unknown pattern {pattern!r}; known: {list(PATTERNS)} or null")
        if not isinstance(merges, list):
            raise ValueError("'merges' must be a list of [id, id] pairs")
        if not isinstance(specials, dict):
            raise ValueError("'special_tokens' must be an object mapping name -> id")
        if data.get("version") != 1:
            byte_ids, merge_ids, roles = (data.get(k) for k in ("byte_ids", "merge_ids", "roles"))
            if not (isinstance(byte_ids, list) and isinstance(merge_ids, list)):
                raise ValueError("'byte_ids' and 'merge_ids' must be lists of ids")
            if not isinstance(roles, dict):
                raise ValueError("'roles' must be an object mapping role -> special token name")
            return cls(
                merges, specials, pattern, byte_ids=byte_ids, merge_ids=merge_ids, roles=roles
            )
        first = 256 + len(merges)
        ids = list(specials.values())
        if any(isinstance(i, bool) or not isinstance(i, int) for i in ids) or sorted(ids) != list(
            range(first, first + len(ids))
        ):
            raise ValueError(
                f"special token ids {ids} are not contiguous from {first} (256 + {len(merges)} "
                "merges)"
            )
        names = sorted(specials, key=specials.__getitem__)
        return cls(merges, names, pattern)

    def __repr__(self) -> str:
        return (
            f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self._ranks)}, "
            f"pattern={self.pattern!r})"
        )


_NEVER = float("inf")


def _merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace each occurrence of `pair`, scanning left to right (so "aaa" -> "Za")."""
    a, b = pair
    out: list[int] = []
    i, n = 0, len(ids)
    while i < n:
        if ids[i] == a and i + 1 < n and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _learn_merges(chunks: Counter[str], n_merges: int) -> list[tuple[int, int]]:
    """BPE training over unique chunks with incremental pair counts.

    Keeps pair -> weighted count and pair -> indices of chunks containing it. A merge rewrites
    only the chunks that contain the merged pair and applies their count changes, so the cost
    per merge is proportional to what changed, not to the corpus. A max-heap with lazy deletion
    (stale entries are skipped on pop) finds the best pair: highest count, then smallest pair.
    """
    words = [list(chunk.encode("utf-8")) for chunk in chunks]
    freqs = list(chunks.values())
    counts: dict[tuple[int, int], int] = {}
    where: dict[tuple[int, int], set[int]] = {}
    for i, (word, freq) in enumerate(zip(words, freqs, strict=True)):
        for pair in pairwise(word):
            counts[pair] = counts.get(pair, 0) + freq
            where.setdefault(pair, set()).add(i)
    heap = [(-count, pair) for pair, count in counts.items()]
    heapq.heapify(heap)

    merges: list[tuple[int, int]] = []
    while len(merges) < n_merges and heap:
        neg_count, pair = heapq.heappop(heap)
        if counts.get(pair) != -neg_count:
            continue  # stale heap entry
        new_id = 256 + len(merges)
        merges.append(pair)
        delta: dict[tuple[int, int], int] = {}
        for i in where.pop(pair):
            old = words[i]
            new = words[i] = _merge_pair(old, pair, new_id)
            old_pairs, new_pairs = list(pairwise(old)), list(pairwise(new))
            for p in old_pairs:
                delta[p] = delta.get(p, 0) - freqs[i]
            for p in new_pairs:
                delta[p] = delta.get(p, 0) + freqs[i]
            for p in set(old_pairs).difference(new_pairs):
                if p in where:
                    where[p].discard(i)
            for p in set(new_pairs).difference(old_pairs):
                where.setdefault(p, set()).add(i)
        for p, d in delta.items():
            if d:
                count = counts.get(p, 0) + d
                if count:
                    counts[p] = count
                    heapq.heappush(heap, (-count, p))
                else:
                    del counts[p]
                    where.pop(p, None)
    return merges


def _compile_pattern(pattern: str | None) -> regex.Pattern[str] | None:
    if pattern is None:
        return None
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {list(PATTERNS)} or None, got {pattern!r}")
    return regex.compile(PATTERNS[pattern])


def _check_special_tokens(special_tokens: Sequence[str]) -> list[str]:
    if isinstance(special_tokens, str):
        raise TypeError("special_tokens must be a sequence of strings, not a single str")
    names = list(special_tokens)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"special tokens must be non-empty strings, got {name!r}")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"duplicate special tokens {duplicates}")
    return names


def _not_utf8_message(text: str) -> str:
    pos = next(i for i, ch in enumerate(text) if 0xD800 <= ord(ch) <= 0xDFFF)
    return f"text is not encodable as UTF-8: lone surrogate U+{ord(text[pos]):04X} at index {pos}"
