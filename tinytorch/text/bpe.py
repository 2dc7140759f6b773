"""Byte-level byte-pair encoding (GPT-2 style): training with incremental pair counts, encoding
with a per-chunk cache."""

from __future__ import annotations

import heapq
import numbers
import re
from collections import Counter
from collections.abc import Collection, Sequence
from itertools import pairwise
from typing import Any, Literal

import numpy as np
import regex

from tinytorch.text.tokenizer_base import Tokenizer, check_text

# Pre-split patterns: BPE never merges across chunk boundaries, so words, numbers and
# punctuation stay separate tokens. Both patterns match every character of any text.
PATTERNS = {
    "gpt2": r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    "gpt4": (  # cl100k_base
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
        r"""|\s*[\r\n]|\s+(?!\S)|\s+"""
    ),
}
DEFAULT_SPECIAL_TOKENS = ("<pad>", "<unk>", "<bos>", "<eos>")
_CACHED_CHUNK_CHARS = 256  # longer chunks (rare, or pattern=None) are not worth caching
_CACHE_ENTRIES = 100_000
# Bound on the summed length of all merged tokens. Each merge joins two earlier tokens, so a
# merge list (e.g. from a crafted file) that keeps joining a token with itself doubles its length
# every time: 40 merges would spell a terabyte. Trained tokens are pieces of the training text,
# typically a few bytes each (a 50,000-merge vocabulary holds well under 1 MiB).
MAX_MERGED_BYTES = 64 * 2**20


class BPETokenizer(Tokenizer, type_name="bpe"):
    """Byte-level BPE: every string is encodable, and `decode(encode(s)) == s` for all of them.

    Ids 0..255 are raw bytes, merge i creates id 256 + i, and the special tokens come after the
    merges. `<pad>` is always registered (batch padding needs it); `<unk>` may be registered but
    is never produced, since every byte has an id.

    Special-token policy: by default `encode` treats special-token strings in the text as
    ordinary characters, so user text can never inject control tokens. Pass
    `allowed_special="all"` or a set of names to encode those strings to their special ids.
    `decode` renders special ids as their names unless `skip_special_tokens=True`, which drops
    them (and renders `<unk>` as U+FFFD, as CharTokenizer does). Ids that form invalid UTF-8
    decode with U+FFFD replacements rather than raising.

    Texts containing lone surrogates are not UTF-8 and raise ValueError.
    """

    def __init__(
        self,
        merges: Sequence[tuple[int, int]],
        special_tokens: Sequence[str] = DEFAULT_SPECIAL_TOKENS,
        pattern: Literal["gpt4", "gpt2"] | None = "gpt4",
    ) -> None:
        """Build from merges in rank order (as produced by `train`)."""
        self._split = _compile_pattern(pattern)
        self.pattern = pattern
        self._ranks: dict[tuple[int, int], int] = {}
        self._bytes = [bytes([b]) for b in range(256)]
        merged_bytes = 0
        for i, pair in enumerate(merges):
            new_id = 256 + i
            try:
                a, b = pair
            except (TypeError, ValueError):
                a = b = None
            if any(isinstance(x, bool) or not isinstance(x, numbers.Integral) for x in (a, b)):
                raise ValueError(f"merge {i} must be a pair of integer ids, got {pair!r}")
            a, b = int(a), int(b)
            if not (0 <= a < new_id and 0 <= b < new_id):
                raise ValueError(f"merge {i} {[a, b]} references an id outside [0, {new_id})")
            if (a, b) in self._ranks:
                raise ValueError(f"merge {i} {[a, b]} repeats merge {self._ranks[a, b] - 256}")
            merged_bytes += len(self._bytes[a]) + len(self._bytes[b])  # checked before joining
            if merged_bytes > MAX_MERGED_BYTES:
                raise ValueError(
                    f"merges 0..{i} spell {merged_bytes} bytes of tokens, more than the "
                    f"{MAX_MERGED_BYTES} allowed (merges that keep joining a token with itself "
                    "double its length each time)"
                )
            self._ranks[a, b] = new_id
            self._bytes.append(self._bytes[a] + self._bytes[b])

        specials = _check_special_tokens(special_tokens)
        if "<pad>" not in specials:
            raise ValueError("special_tokens must include '<pad>' (encode_batch pads with it)")
        first = 256 + len(self._ranks)
        self._special_ids = {name: first + j for j, name in enumerate(specials)}
        self.pad_id = self._special_ids["<pad>"]
        self.unk_id = self._special_ids.get("<unk>")
        self.bos_id = self._special_ids.get("<bos>")
        self.eos_id = self._special_ids.get("<eos>")
        self._render = self._bytes + [name.encode("utf-8") for name in specials]
        self._render_skip = self._bytes + [
            "\ufffd".encode() if name == "<unk>" else b"" for name in specials
        ]
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def train(
        cls,
        text: str,
        vocab_size: int,
        pattern: Literal["gpt4", "gpt2"] | None = "gpt4",
        special_tokens: Sequence[str] = DEFAULT_SPECIAL_TOKENS,
    ) -> BPETokenizer:
        """Learn merges from `text` until `vocab_size` = 256 bytes + merges + special tokens.

        `pattern` pre-splits the text with the GPT-2 or GPT-4 (cl100k) regex; None treats the text
        as one sequence, which suits toy examples but is slow on big corpora: every merge then
        rewrites that one sequence in training, and encoding rescans it per applied merge.
        Ties in pair frequency go to the smallest pair of ids, so training is deterministic.
        Training stops early if no pair is left to merge.
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

    @property
    def vocab_size(self) -> int:
        return len(self._render)

    @property
    def special_tokens(self) -> dict[str, int]:
        return dict(self._special_ids)

    @property
    def merges(self) -> list[tuple[int, int]]:
        """Merged pairs in rank order; merge i created id 256 + i."""
        return list(self._ranks)

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
        """The bytes the ids spell (before UTF-8 decoding): a token may hold part of a
        character, so text shown as it is generated must be decoded from these, incrementally
        (`tinytorch.text.stream_decoder`)."""
        table = self._render_skip if skip_special_tokens else self._render
        return b"".join([table[i] for i in self._check_ids(ids).tolist()])

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
        ids = list(chunk.encode("utf-8"))
        ranks = self._ranks
        while len(ids) >= 2:
            pair = min(pairwise(ids), key=lambda p: ranks.get(p, _NEVER))
            new_id = ranks.get(pair)
            if new_id is None:
                break
            ids = _merge_pair(ids, pair, new_id)
        return ids

    def _to_dict(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "merges": [list(pair) for pair in self._ranks],
            "special_tokens": dict(self._special_ids),
        }

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> BPETokenizer:
        pattern, merges, specials = (data.get(k) for k in ("pattern", "merges", "special_tokens"))
        if pattern is not None and pattern not in PATTERNS:
            raise ValueError(f"unknown pattern {pattern!r}; known: {list(PATTERNS)} or null")
        if not isinstance(merges, list):
            raise ValueError("'merges' must be a list of [id, id] pairs")
        if not isinstance(specials, dict):
            raise ValueError("'special_tokens' must be an object mapping name -> id")
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
