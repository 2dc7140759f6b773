"""A built-in training corpus: children's stories from a seeded probabilistic grammar.

Why generate instead of download: the corpus is always available, reproducible from a seed, and,
because we wrote the grammar, we know the exact probability of every text it produces. That gives
the training loop a floor to print next to its validation loss: ``Corpus.entropy_bits_per_char``
is the cross-entropy a *perfect* model (one that knows the grammar and sees the whole text so far)
would reach; no model can do better on average. A model with a finite context window can only
approach it, but stories are short (350-670 characters, one per line) and repeat what matters
often, so a 128-character window sees most of it: the hero's name and gender (he/she, his/her),
the object found (and its adjective), the friend's name and answer (which decides the ending).

The default corpus (1,000,000 characters, seed 0) has 0.291 bits/char (0.202 nats/char) over
57 distinct characters and about 500 words. That is lower than free English because templated
sentences force many characters; each story still carries about 140 bits, so stories never
repeat and a model has to learn the grammar rather than memorize text.

How the probability stays exact: the grammar is one function, ``story`` in ``story_grammar.py``,
that talks to a "tape" through two calls, ``pick(choice)`` (a weighted choice among literal
strings) and ``emit(text)`` (text fixed by earlier choices, e.g. a name introduced at the start
being reused). Generation runs it with a tape that samples and writes; scoring runs the *same*
function with a tape that reads.
Every ``Choice`` is prefix-free (no option is a prefix of another, checked on construction), so
at each pick at most one option matches the text: the derivation is unique and
log2 P(text) = sum of log2 P(option) over the picks made.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import NoReturn

from tinytorch.core.checks import is_int
from tinytorch.data.choice import Choice
from tinytorch.data.story_grammar import story


class _Writer:
    """Tape that samples each pick from ``rng`` and writes the text, tracking log2 P."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.parts: list[str] = []
        self.log2_prob = 0.0

    def pick(self, choice: Choice) -> str:
        i = choice.sample(self._rng.random())
        self.log2_prob += choice.log2_probs[i]
        self.parts.append(choice.options[i])
        return choice.options[i]

    def emit(self, text: str) -> None:
        self.parts.append(text)


class _Reader:
    """Tape that recovers each pick from existing text, summing log2 P, or says where it fails."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.log2_prob = 0.0

    def pick(self, choice: Choice) -> str:
        i = choice.match(self.text, self.pos)
        if i is None:
            expected = ", ".join(repr(o) for o in choice.options[:6])
            more = ", ..." if len(choice.options) > 6 else ""
            self._fail(f"one of {expected}{more}")
        self.log2_prob += choice.log2_probs[i]
        self.pos += len(choice.options[i])
        return choice.options[i]

    def emit(self, text: str) -> None:
        if not self.text.startswith(text, self.pos):
            self._fail(repr(text))
        self.pos += len(text)

    def _fail(self, expected: str) -> NoReturn:
        found = self.text[self.pos : self.pos + 30]
        raise ValueError(
            f"text is not in the corpus grammar: at char {self.pos} expected {expected}, "
            f"found {found!r}"
        )


@dataclass(frozen=True)
class Corpus:
    """Generated text together with its exact probability under the generator.

    ``entropy_bits_per_char`` is the floor for a model's per-character cross-entropy: only a
    perfect model with unlimited context reaches it (a model that sees 128 characters can come
    close because stories are short). Cross-entropy losses are usually in nats; compare them to
    ``entropy_nats_per_char``.
    """

    text: str
    log2_prob: float

    @property
    def num_chars(self) -> int:
        return len(self.text)

    @property
    def entropy_bits_per_char(self) -> float:
        return -self.log2_prob / len(self.text)

    @property
    def entropy_nats_per_char(self) -> float:
        return self.entropy_bits_per_char * math.log(2)

    def split(self, val_fraction: float = 0.1) -> tuple[str, str]:
        """(train_text, val_text), cut at the first story boundary after ``1 - val_fraction``.

        Cutting between stories keeps both parts in the grammar, so ``log2_prob_of`` scores each.
        """
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        target = int(len(self.text) * (1.0 - val_fraction))
        cut = self.text.find("\n", max(target - 1, 0)) + 1
        if cut == 0 or cut >= len(self.text):
            raise ValueError(
                f"a corpus of {len(self.text)} chars is too small to hold back "
                f"{val_fraction:.0%} of it at a story boundary"
            )
        return self.text[:cut], self.text[cut:]


def generate_corpus(num_chars: int = 1_000_000, seed: int = 0) -> Corpus:
    """Generate whole stories until there are at least ``num_chars`` characters.

    No story is cut, so the text is a complete sequence of stories and its log2-probability is
    the sum over its stories (the stopping rule depends only on the stories, adding nothing).
    Deterministic for a given seed.
    """
    if not is_int(num_chars) or num_chars < 1:
        raise ValueError(f"num_chars must be a positive int, got {num_chars!r}")
    tape = _Writer(random.Random(seed))
    length = 0
    while length < num_chars:
        start = len(tape.parts)
        story(tape)
        length += sum(len(p) for p in tape.parts[start:])
    return Corpus(text="".join(tape.parts), log2_prob=tape.log2_prob)


def log2_prob_of(text: str) -> float:
    """Exact log2-probability of a sequence of generated stories; ValueError if not one.

    Re-derives every choice from the text by running the grammar against it, so a text
    from ``generate_corpus`` scores exactly its tracked ``log2_prob``.
    """
    if not text:
        raise ValueError("empty text is not a sequence of stories")
    tape = _Reader(text)
    while tape.pos < len(text):
        story(tape)
    return tape.log2_prob
