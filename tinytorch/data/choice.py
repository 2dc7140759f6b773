"""`Choice`: a weighted choice among literal strings, the unit of the story grammar.

Every option set is prefix-free (no option is a prefix of another, checked on construction), so
at each choice at most one option matches a text: the grammar's derivation of a text is unique,
and its probability can be read back exactly (see `tinytorch/data/corpus.py`).
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections.abc import Sequence
from typing import Protocol

Weighted = Sequence[tuple[str, float]]


class Choice:
    """A weighted choice among literal strings, prefix-free so the reader can never be misled."""

    def __init__(self, weighted: Weighted) -> None:
        if not weighted:
            raise ValueError("a Choice needs at least one option")
        self.options = tuple(text for text, _ in weighted)
        weights = [float(w) for _, w in weighted]
        if any(not w > 0 for w in weights):
            raise ValueError(f"weights must be positive, got {weights}")
        if "" in self.options:
            raise ValueError("an empty option would leave no trace in the text")
        ordered = sorted(self.options)
        for a, b in itertools.pairwise(ordered):
            # In sorted order a prefix sorts right before the strings it prefixes.
            if b.startswith(a):
                raise ValueError(f"options {a!r} and {b!r} make parsing ambiguous")
        total = sum(weights)
        self.log2_probs = tuple(math.log2(w / total) for w in weights)
        self._cumulative = [c / total for c in itertools.accumulate(weights)]
        self._index = {text: i for i, text in enumerate(self.options)}
        self._pattern = re.compile("|".join(re.escape(text) for text in self.options))

    def sample(self, u: float) -> int:
        """Index of the option selected by a uniform draw ``u`` in [0, 1)."""
        return min(bisect.bisect_right(self._cumulative, u), len(self.options) - 1)

    def match(self, text: str, pos: int) -> int | None:
        """Index of the (unique) option that ``text`` continues with at ``pos``, or None."""
        m = self._pattern.match(text, pos)
        return None if m is None else self._index[m.group()]


class Tape(Protocol):
    """What the grammar talks to: a tape that writes stories, or one that reads them back."""

    def pick(self, choice: Choice) -> str: ...
    def emit(self, text: str) -> None: ...
