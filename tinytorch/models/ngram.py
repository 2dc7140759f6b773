"""A count-based baseline: an interpolated Kneser-Ney n-gram model with modified discounts.

A network's validation loss means little on its own: counting which token followed the previous
few already predicts text well. `NGramModel` is that counting done as well as classical language
models do it (Chen & Goodman 1998; discounts per order from the counts that order uses, as in
KenLM), fitted on the training ids, so a run can show how far the network gets beyond counting.

For a token w after a context h of k-1 tokens (h' is h without its first token):

    p_k(w | h) = (a_k(hw) - D_k(a_k(hw))) / a_k(h.)  +  gamma_k(h) * p_{k-1}(w | h')
    gamma_k(h) = (sum over w of D_k(a_k(hw))) / a_k(h.)        a_k(h.) = sum over w of a_k(hw)
    p_0(w)     = 1 / vocab_size

- a_k is the count of the k-gram in the training ids for the top order k = `order`, and for lower
  orders its continuation count: how many distinct tokens precede it in the training ids (a lower
  order is only consulted when the longer context says little, so it should predict what
  follows *new* contexts). A k-gram seen only at the very start of the ids has continuation
  count 0.
- D_k(a) is 0 for a = 0 and three discounts per order for a = 1, 2, >= 3, estimated from the
  count-of-counts n_r (how many k-grams have a_k = r): Y = n1 / (n1 + 2 n2),
  D_r = r - (r + 1) Y n_{r+1} / n_r. When n1, n2 or n3 is 0, or some D_r falls outside (0, r]
  (tiny or artificial data), that order uses `FALLBACK_DISCOUNTS`, as KenLM's --discount_fallback.
- A context with a_k(h.) = 0 (never seen, seen only at the end of the ids, or cut off by the
  start of the scored ids) leaves p_k = p_{k-1}: the model uses the longest context it knows.
  So the first tokens of scored ids are scored with the shorter context they have.
- The bottom level mixes in the uniform distribution over `vocab_size`, so every id, also one
  never seen in training, has a probability > 0, and each p_k sums to 1 over the vocabulary.

Counting is vectorised per order: a k-gram is the pair (id of its first k-1 tokens among the
(k-1)-grams, its last token), packed into one int64 key, sorted with np.unique and looked up
with np.searchsorted. Keys stay below (training tokens)**2, so they fit in int64 for up to 3e9
training tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tinytorch.core.checks import is_int
from tinytorch.core.errors import IndexOutOfRangeError
from tinytorch.core.tensor import integer_array

# Held-out bits/char stop improving from about 10 characters or 7 BPE tokens of context on; with
# 12, every text and tokenizer we measured (the built-in corpus, Python's documentation) came
# within 1.3% of its best order, at about 1 s to fit 900k tokens.
DEFAULT_ORDER = 12
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)


@dataclass(frozen=True)
class _Level:
    """The k-grams of one order, ready for lookup.

    `direct` and `backoff` end with one extra entry, read by index -1: an absent k-gram gets no
    direct share (0), an absent context passes p_{k-1} on whole (1).
    """

    keys: np.ndarray  # sorted int64, one per distinct k-gram: context id * radix + token index
    direct: np.ndarray  # per k-gram: (a - D(a)) / a(context .), 0 where a = 0
    backoff: np.ndarray  # per (k-1)-gram context: gamma, 1 where a(context .) = 0
    discounts: tuple[float, float, float]  # D(1), D(2), D(3+)


class NGramModel:
    """Interpolated modified Kneser-Ney over int64 token ids; build it with `NGramModel.fit`."""

    def __init__(self, seen: np.ndarray, levels: list[_Level], vocab_size: int) -> None:
        self._seen = seen  # sorted distinct training ids; a token's index here is its key part
        self._levels = levels
        self.vocab_size = vocab_size
        self.order = len(levels)

    @classmethod
    def fit(cls, train_ids: Any, vocab_size: int, order: int = DEFAULT_ORDER) -> NGramModel:
        """Count the k-grams (k = 1..order) of `train_ids`, 1-D ids in [0, vocab_size)."""
        _check_at_least_one(vocab_size=vocab_size, order=order)
        train = _token_ids(train_ids, vocab_size, "train_ids")
        if train.size == 0:
            raise ValueError("train_ids holds 0 tokens; an n-gram model needs at least 1")
        seen, tokens = np.unique(train, return_inverse=True)
        radix = len(seen)
        keys_by_level: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        context = np.zeros(len(train), np.int64)  # every unigram has the empty context, id 0
        previous: np.ndarray | None = None
        for k in range(1, order + 1):
            # the k-grams at positions k-1..N-1: (id of the (k-1)-gram before, token)
            keys, inverse = np.unique(context * radix + tokens[k - 1 :], return_inverse=True)
            if previous is not None:  # now the (k-1)-grams get their continuation counts
                suffix = np.empty(len(keys), np.int64)
                suffix[inverse] = previous[1:]  # the (k-1)-gram each k-gram ends with
                counts[-1] = np.bincount(suffix, minlength=len(keys_by_level[-1]))
            keys_by_level.append(keys)
            counts.append(np.bincount(inverse, minlength=len(keys)))
            context, previous = inverse[:-1], inverse
        num_contexts = [1] + [len(keys) for keys in keys_by_level[:-1]]
        levels = [
            _level(keys, count, radix, n)
            for keys, count, n in zip(keys_by_level, counts, num_contexts, strict=True)
        ]
        return cls(seen, levels, vocab_size)

    @property
    def discounts(self) -> list[tuple[float, float, float]]:
        """D(1), D(2), D(3+) of each order, lowest first."""
        return [level.discounts for level in self._levels]

    def token_log_probs(self, ids: Any) -> np.ndarray:
        """ln p(ids[i] | ids[i-order+1:i]) for every i, as float64 (ids[0] gets the unigram).

        Every token is scored; a token with fewer than order-1 tokens before it uses the context
        it has. Sum for a total, or divide the sum by -ln(2) * characters for bits per char.
        """
        tokens = self._token_indices(_token_ids(ids, self.vocab_size, "ids"))
        contexts = [context[:-1] for context in self._contexts(tokens)]
        return np.log(self._probs(contexts, tokens))

    def log_prob(self, ids: Any) -> float:
        """Natural-log probability of all of `ids` (the sum of `token_log_probs`)."""
        return float(self.token_log_probs(ids).sum())

    def next_token_probs(self, context: Any) -> np.ndarray:
        """p(w | context) for every id w in [0, vocab_size), float64; uses the last order-1 ids."""
        history = _token_ids(context, self.vocab_size, "context")
        recent = self._token_indices(history[max(len(history) - self.order + 1, 0) :])
        contexts = [ids[-1:] for ids in self._contexts(recent)]
        return self._probs(contexts, self._token_indices(np.arange(self.vocab_size)))

    # ------------------------------------------------------------------------ lookups
    def _token_indices(self, ids: np.ndarray) -> np.ndarray:
        """Each id's index among the training ids, -1 for an id never seen in training."""
        index = np.searchsorted(self._seen, ids)
        found = self._seen[np.minimum(index, len(self._seen) - 1)] == ids
        return np.where(found, index, -1)

    def _find(self, level: _Level, context: np.ndarray, token: np.ndarray) -> np.ndarray:
        """Index of the k-gram (context, token) in `level`, -1 if absent or either part is -1."""
        if len(level.keys) == 0:
            return np.full(np.broadcast(context, token).shape, -1)
        key = context * len(self._seen) + token
        index = np.minimum(np.searchsorted(level.keys, key), len(level.keys) - 1)
        return np.where((context >= 0) & (token >= 0) & (level.keys[index] == key), index, -1)

    def _contexts(self, tokens: np.ndarray) -> list[np.ndarray]:
        """Per order k: the id of the k-1 tokens before each position 0..len(tokens), or -1."""
        context = np.zeros(len(tokens) + 1, np.int64)  # order 1: the empty context
        contexts = [context]
        for level in self._levels[:-1]:
            ending = self._find(level, context[:-1], tokens)  # the k-gram ending at each position
            context = np.concatenate(([-1], ending))
            contexts.append(context)
        return contexts

    def _probs(self, contexts: list[np.ndarray], tokens: np.ndarray) -> np.ndarray:
        """The interpolation, from the uniform distribution up to the top order."""
        probs = np.full(np.broadcast(contexts[0], tokens).shape, 1.0 / self.vocab_size)
        for level, context in zip(self._levels, contexts, strict=True):
            gram = self._find(level, context, tokens)
            probs = level.direct[gram] + level.backoff[context] * probs
        return probs


def _level(keys: np.ndarray, counts: np.ndarray, radix: int, num_contexts: int) -> _Level:
    """Discounted probabilities and backoff weights of one order from its k-gram counts a_k."""
    discounts = _estimate_discounts(counts)
    discount = np.array((0.0, *discounts))[np.minimum(counts, 3)]
    context = keys // radix
    total = np.bincount(context, weights=counts, minlength=num_contexts)
    mass = np.bincount(context, weights=discount, minlength=num_contexts)
    seen = total > 0
    total = np.where(seen, total, 1.0)
    return _Level(
        keys=keys,
        direct=np.append((counts - discount) / total[context], 0.0),
        backoff=np.append(np.where(seen, mass / total, 1.0), 1.0),
        discounts=discounts,
    )


def _estimate_discounts(counts: np.ndarray) -> tuple[float, float, float]:
    """Chen & Goodman's D(1), D(2), D(3+) from the count-of-counts, or the fallback if invalid."""
    n = [int(c) for c in np.bincount(np.minimum(counts, 5), minlength=6)]  # n[r] for r <= 4
    if n[1] and n[2] and n[3]:
        y = n[1] / (n[1] + 2 * n[2])
        d = tuple(r - (r + 1) * y * n[r + 1] / n[r] for r in (1, 2, 3))
        if all(0.0 < d[r - 1] <= r for r in (1, 2, 3)):
            return d
    return FALLBACK_DISCOUNTS


def _check_at_least_one(**values: Any) -> None:
    for name, value in values.items():
        if not is_int(value) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


def _token_ids(ids: Any, vocab_size: int, name: str) -> np.ndarray:
    """`ids` as a 1-D int64 array in [0, vocab_size), or an error naming the bad id."""
    array = integer_array(ids, f"{name} must be integer token ids, got dtype {{dtype}}")
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of token ids, got shape {array.shape}")
    if array.size and (array.min() < 0 or array.max() >= vocab_size):
        position = int(np.flatnonzero((array < 0) | (array >= vocab_size))[0])
        raise IndexOutOfRangeError(
            f"token id {array[position]} at position {position} of {name} is out of range for "
            f"a vocabulary of {vocab_size}: allowed ids are [0, {vocab_size})"
        )
    return array.astype(np.int64, copy=False)
