"""The n-gram baseline (tinytorch/models/ngram.py): interpolated modified Kneser-Ney.

Three oracles: probabilities worked out by hand as fractions, a slow reference written from the
formulas with dicts and loops (not from the vectorised code), and the built-in corpus, whose
exact entropy no model can beat.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from fractions import Fraction as F

import numpy as np
import pytest

from tinytorch.core.errors import IndexOutOfRangeError
from tinytorch.data import generate_corpus
from tinytorch.models.ngram import FALLBACK_DISCOUNTS, NGramModel
from tinytorch.text.tokenization import CharTokenizer

# ------------------------------------------------------------------------ worked by hand
A, B, C, D = 0, 1, 2, 3  # vocabulary of 4; D never occurs in training
TRAIN = np.array([A, B, A, B, A, B, A, B, C, C, C, A])
HALF = F(1, 2)

# Unigram level of order >= 2, continuation counts (distinct tokens seen before each):
#   a <- {b, c}: 2     b <- {a}: 1     c <- {b, c}: 2     d: 0      total 5
#   count-of-counts n1 = 1, n2 = 2, n3 = 0: no estimate, fallback D = 1/2, 1, 3/2
#   gamma = (D(2) + D(1) + D(2)) / 5 = 1/2, spread uniformly: 1/2 * 1/4 = 1/8 for every token
P1 = {A: F(2 - 1, 5) + F(1, 8), B: F(1, 2) / 5 + F(1, 8), C: F(1, 5) + F(1, 8), D: F(1, 8)}
# = 13/40, 9/40, 13/40, 5/40


def test_order_2_by_hand():
    # Bigram counts: ab 4, ba 3, bc 1, cc 2, ca 1. Count-of-counts n1 = 2, n2 = 1, n3 = 1, n4 = 1:
    # Y = 2 / (2 + 2*1) = 1/2; D1 = 1 - 2 Y n2/n1 = 1/2; D2 = 2 - 3 Y n3/n2 = 1/2;
    # D3+ = 3 - 4 Y n4/n3 = 1.
    model = NGramModel.fit(TRAIN, vocab_size=4, order=2)
    assert model.discounts == [FALLBACK_DISCOUNTS, (0.5, 0.5, 1.0)]
    d1, d2, d3 = HALF, HALF, F(1)
    # context a: ab 4 -> total 4, gamma = D3+ / 4 = 1/4
    after_a = {
        A: F(1, 4) * P1[A],
        B: (4 - d3) / 4 + F(1, 4) * P1[B],  # 3/4 + 9/160 = 129/160
        C: F(1, 4) * P1[C],
        D: F(1, 4) * P1[D],
    }
    # context b: ba 3, bc 1 -> total 4, gamma = (D3+ + D1) / 4 = 3/8
    after_b = {
        A: (3 - d3) / 4 + F(3, 8) * P1[A],  # 1/2 + 39/320 = 199/320
        B: F(3, 8) * P1[B],
        C: (1 - d1) / 4 + F(3, 8) * P1[C],  # 1/8 + 39/320 = 79/320
        D: F(3, 8) * P1[D],
    }
    # context c: cc 2, ca 1 -> total 3, gamma = (D2 + D1) / 3 = 1/3
    after_c = {
        A: (1 - d1) / 3 + F(1, 3) * P1[A],
        B: F(1, 3) * P1[B],
        C: (2 - d2) / 3 + F(1, 3) * P1[C],
        D: F(1, 3) * P1[D],
    }
    # context d was never seen: the unigram level alone
    for context, expected in ((A, after_a), (B, after_b), (C, after_c), (D, P1)):
        assert sum(expected.values()) == 1
        _assert_probs(model.next_token_probs([context]), expected)
    # scored ids d a b b: d first (no context), then a after d, b after a, b after b
    _assert_log_probs(model, [D, A, B, B], [P1[D], P1[A], after_a[B], after_b[B]])


def test_order_3_by_hand():
    # Trigram counts: aba 3, bab 3, abc 1, bcc 1, ccc 1, cca 1 (n2 = 0: fallback 1/2, 1, 3/2).
    #   context ab: aba 3, abc 1 -> total 4, gamma = (3/2 + 1/2) / 4 = 1/2
    # Bigram continuation counts (distinct tokens before each bigram; the ab at position 0 has
    # none): ab <- {b}: 1, ba <- {a}: 1, bc <- {a}: 1, cc <- {b, c}: 2, ca <- {c}: 1
    # (n3 = 0: fallback). Bigram level, context b: ba 1, bc 1 -> total 2, gamma = 1/2;
    # context a: ab 1 -> total 1, gamma 1/2; context c: cc 2, ca 1 -> total 3, gamma = 1/2.
    model = NGramModel.fit(TRAIN, vocab_size=4, order=3)
    assert model.discounts == [FALLBACK_DISCOUNTS] * 3
    p2_after_a = {A: HALF * P1[A], B: HALF + HALF * P1[B], C: HALF * P1[C], D: HALF * P1[D]}
    p2_after_b = {
        A: HALF / 2 + HALF * P1[A],  # 33/80
        B: HALF * P1[B],
        C: HALF / 2 + HALF * P1[C],  # 33/80
        D: HALF * P1[D],
    }
    p2_after_c = {
        A: HALF / 3 + HALF * P1[A],
        B: HALF * P1[B],
        C: F(2 - 1, 3) + HALF * P1[C],
        D: HALF * P1[D],
    }
    after_ab = {
        A: (3 - F(3, 2)) / 4 + HALF * p2_after_b[A],  # 3/8 + 33/160 = 93/160
        B: HALF * p2_after_b[B],  # 9/160
        C: (1 - HALF) / 4 + HALF * p2_after_b[C],  # 1/8 + 33/160 = 53/160
        D: HALF * p2_after_b[D],  # 5/160
    }
    assert [after_ab[t] for t in (A, B, C, D)] == [F(93, 160), F(9, 160), F(53, 160), F(5, 160)]
    _assert_probs(model.next_token_probs([B, A, B]), after_ab)  # only the last 2 ids count
    # ca ends the training ids, so nothing follows it: back off to the bigram level after a
    _assert_probs(model.next_token_probs([C, A]), p2_after_a)
    _assert_probs(model.next_token_probs([D, C]), p2_after_c)  # d c: only c is known
    _assert_probs(model.next_token_probs([]), P1)
    # scored ids c a b d: c with no context, a after c, b after "ca" (unseen: bigram level)
    _assert_log_probs(model, [C, A, B, D], [P1[C], p2_after_c[A], p2_after_a[B], after_ab[D]])


def test_order_1_is_the_unigram_of_raw_counts_mixed_with_uniform():
    # counts a 5, b 4, c 3 (n1 = n2 = 0: fallback), total 12, gamma = 3 * 3/2 / 12 = 3/8
    model = NGramModel.fit(TRAIN, vocab_size=4, order=1)
    gamma = F(3, 8)
    expected = {
        A: (5 - F(3, 2)) / 12 + gamma / 4,
        B: (4 - F(3, 2)) / 12 + gamma / 4,
        C: (3 - F(3, 2)) / 12 + gamma / 4,
        D: gamma / 4,
    }
    for context in ([], [A], [D, D, B]):  # order 1 ignores any context
        _assert_probs(model.next_token_probs(context), expected)


def _assert_probs(probs: np.ndarray, expected: dict[int, F]) -> None:
    assert probs.dtype == np.float64 and probs.shape == (len(expected),)
    expected_probs = [float(expected[t]) for t in sorted(expected)]
    np.testing.assert_allclose(probs, expected_probs, rtol=0, atol=1e-12)


def _assert_log_probs(model: NGramModel, ids: list[int], expected: list[F]) -> None:
    scores = model.token_log_probs(np.array(ids))
    np.testing.assert_allclose(scores, [math.log(p) for p in expected], rtol=0, atol=1e-12)


# ------------------------------------------------------------------- reference from formulas
class ReferenceKneserNey:
    """Interpolated modified Kneser-Ney, straight from the formulas: slow, with dicts and loops."""

    def __init__(self, train: list[int], vocab_size: int, order: int) -> None:
        self.vocab_size = vocab_size
        self.order = order
        self.counts: dict[int, dict[tuple[int, ...], int]] = {}
        for k in range(1, order + 1):
            if k == order:  # raw counts
                grams = [tuple(train[i - k + 1 : i + 1]) for i in range(k - 1, len(train))]
                self.counts[k] = dict(Counter(grams))
            else:  # continuation counts: distinct tokens before the k-gram
                before: dict[tuple[int, ...], set[int]] = {}
                for i in range(k, len(train)):
                    before.setdefault(tuple(train[i - k + 1 : i + 1]), set()).add(train[i - k])
                self.counts[k] = {gram: len(left) for gram, left in before.items()}
        self.discounts = {k: self._discounts(self.counts[k]) for k in self.counts}

    @staticmethod
    def _discounts(counts: dict[tuple[int, ...], int]) -> tuple[float, float, float]:
        n = {r: sum(1 for c in counts.values() if c == r) for r in (1, 2, 3, 4)}
        if n[1] > 0 and n[2] > 0 and n[3] > 0:
            y = n[1] / (n[1] + 2 * n[2])
            d1 = 1 - 2 * y * n[2] / n[1]
            d2 = 2 - 3 * y * n[3] / n[2]
            d3 = 3 - 4 * y * n[4] / n[3]
            if 0 < d1 <= 1 and 0 < d2 <= 2 and 0 < d3 <= 3:
                return (d1, d2, d3)
        return (0.5, 1.0, 1.5)

    def discount(self, k: int, count: int) -> float:
        return 0.0 if count == 0 else self.discounts[k][min(count, 3) - 1]

    def prob(self, k: int, context: tuple[int, ...], token: int) -> float:
        """p_k(token | context) with len(context) == k - 1."""
        if k == 0:
            return 1.0 / self.vocab_size
        lower = self.prob(k - 1, context[1:], token)
        followers = {g[-1]: c for g, c in self.counts[k].items() if g[:-1] == context}
        total = sum(followers.values())
        if total == 0:
            return lower
        mass = sum(self.discount(k, c) for c in followers.values())
        count = followers.get(token, 0)
        return (count - self.discount(k, count)) / total + mass / total * lower

    def next_token_prob(self, history: list[int], token: int) -> float:
        context = tuple(history[max(len(history) - self.order + 1, 0) :])
        return self.prob(len(context) + 1, context, token)


def _markov_text(rng: np.random.Generator, alphabet: int, length: int) -> np.ndarray:
    """Ids from a random first-order chain with skewed rows: counts of every size occur."""
    transitions = rng.dirichlet(np.full(alphabet, 0.3), size=alphabet)
    ids = [int(rng.integers(alphabet))]
    for _ in range(length - 1):
        ids.append(int(rng.choice(alphabet, p=transitions[ids[-1]])))
    return np.array(ids, dtype=np.int64)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("alphabet,vocab_size", [(2, 2), (3, 5), (6, 8), (30, 34)])
def test_matches_the_reference_on_random_text(order, alphabet, vocab_size):
    rng = np.random.default_rng(100 * order + alphabet)
    estimated = 0
    for length in (1, 7, 60, 400):
        train = _markov_text(rng, alphabet, length)
        model = NGramModel.fit(train, vocab_size, order)
        reference = ReferenceKneserNey(train.tolist(), vocab_size, order)
        np.testing.assert_allclose(
            model.discounts, [reference.discounts[k] for k in range(1, order + 1)], rtol=1e-12
        )
        estimated += sum(d != FALLBACK_DISCOUNTS for d in model.discounts)
        scored = rng.integers(0, vocab_size, size=40)  # ids beyond the alphabet are unseen
        expected = [
            math.log(reference.next_token_prob(scored[:i].tolist(), int(scored[i])))
            for i in range(len(scored))
        ]
        np.testing.assert_allclose(model.token_log_probs(scored), expected, rtol=1e-12)
        history = scored[:7].tolist()
        np.testing.assert_allclose(
            model.next_token_probs(np.array(history)),
            [reference.next_token_prob(history, t) for t in range(vocab_size)],
            rtol=1e-12,
        )
    if alphabet == 30:  # counts of every size at every order: not only the fallback discounts
        assert estimated > 0


# --------------------------------------------------------------------------- normalisation
@pytest.fixture(scope="module")
def small_corpus():
    corpus = generate_corpus(50_000, seed=3)
    train_text, val_text = corpus.split(0.1)
    tokenizer = CharTokenizer.from_text(corpus.text)
    return corpus, tokenizer, tokenizer.encode_array(train_text), tokenizer.encode_array(val_text)


@pytest.mark.parametrize("order", [1, 2, 3, 5, 8])
def test_probabilities_over_the_vocabulary_sum_to_one(small_corpus, order):
    _, tokenizer, train, val = small_corpus
    model = NGramModel.fit(train, tokenizer.vocab_size, order)
    seen = train[1000:1010]
    never = np.array([tokenizer.pad_id] * 10)  # <pad> does not occur in the text
    contexts = {
        "seen": seen,
        "held out": val[:10],
        "seen but for its first id": np.concatenate(([tokenizer.pad_id], seen[1:])),
        "unseen": never,
        "empty": never[:0],
    }
    for name, context in contexts.items():
        probs = model.next_token_probs(context)
        assert probs.min() > 0, name
        assert abs(probs.sum() - 1.0) < 1e-9, name


def test_a_token_never_seen_in_training_has_the_uniform_share_and_no_more(small_corpus):
    _, tokenizer, train, val = small_corpus
    model = NGramModel.fit(train, tokenizer.vocab_size, order=4)
    unseen = [tokenizer.pad_id, tokenizer.bos_id]
    for context in (train[:3], val[5:8], np.array(unseen + unseen[:1])):
        probs = model.next_token_probs(context)
        assert probs[unseen[0]] == probs[unseen[1]] == probs.min() > 0
    # an unseen id scores like any other token: finite and negative
    scores = model.token_log_probs(np.array([unseen[0], *val[:20], unseen[1]]))
    assert np.isfinite(scores).all() and (scores < 0).all()


def test_an_unseen_context_backs_off_to_the_longest_known_suffix():
    model = NGramModel.fit(TRAIN, vocab_size=4, order=3)
    np.testing.assert_array_equal(model.next_token_probs([D, B]), model.next_token_probs([B]))
    np.testing.assert_array_equal(model.next_token_probs([D, D]), model.next_token_probs([]))
    assert not np.array_equal(model.next_token_probs([A, B]), model.next_token_probs([B]))


def test_log_prob_is_the_sum_and_scores_every_token():
    model = NGramModel.fit(TRAIN, vocab_size=4, order=3)
    ids = np.array([A, B, C, C, A, D, B])
    scores = model.token_log_probs(ids)
    assert scores.shape == ids.shape and scores.dtype == np.float64
    assert model.log_prob(ids) == pytest.approx(scores.sum(), abs=1e-12)
    assert model.token_log_probs(np.array([], np.int64)).shape == (0,)


def test_held_out_bits_per_char_lie_between_the_entropy_floor_and_a_uniform_guess(small_corpus):
    corpus, tokenizer, train, val = small_corpus

    def bits_per_char(order: int) -> float:  # one token per char
        model = NGramModel.fit(train, tokenizer.vocab_size, order)
        return -model.log_prob(val) / math.log(2) / len(val)

    alphabet = len(set(corpus.text))
    assert corpus.entropy_bits_per_char < bits_per_char(5) < math.log2(alphabet)
    assert bits_per_char(5) < bits_per_char(2)  # longer contexts help on this text


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "call,error,message",
    [
        (
            lambda: NGramModel.fit(np.array([0.0, 1.0]), 4),
            TypeError,
            "train_ids must be integer token ids, got dtype float64",
        ),
        (
            lambda: NGramModel.fit(np.array([True, False]), 4),
            TypeError,
            "train_ids must be integer token ids, got dtype bool",
        ),
        (
            lambda: NGramModel.fit(np.array([0, 1, 4]), 4),
            IndexOutOfRangeError,
            "token id 4 at position 2 of train_ids is out of range for a vocabulary of 4: "
            "allowed ids are [0, 4)",
        ),
        (
            lambda: NGramModel.fit(np.array([0, -1]), 4),
            IndexOutOfRangeError,
            "token id -1 at position 1 of train_ids is out of range for a vocabulary of 4: "
            "allowed ids are [0, 4)",
        ),
        (
            lambda: NGramModel.fit(np.array([0, 1]), 4, order=0),
            ValueError,
            "order must be an integer >= 1, got 0",
        ),
        (
            lambda: NGramModel.fit(np.array([0, 1]), 4, order=2.0),
            ValueError,
            "order must be an integer >= 1, got 2.0",
        ),
        (
            lambda: NGramModel.fit(np.array([0, 1]), 0),
            ValueError,
            "vocab_size must be an integer >= 1, got 0",
        ),
        (
            lambda: NGramModel.fit(np.array([], np.int64), 4),
            ValueError,
            "train_ids holds 0 tokens; an n-gram model needs at least 1",
        ),
        (
            lambda: NGramModel.fit(np.zeros((2, 3), np.int64), 4),
            ValueError,
            "train_ids must be a 1-D array of token ids, got shape (2, 3)",
        ),
        (
            lambda: NGramModel.fit(TRAIN, 4).token_log_probs(np.array([1.0])),
            TypeError,
            "ids must be integer token ids, got dtype float64",
        ),
        (
            lambda: NGramModel.fit(TRAIN, 4).token_log_probs(np.array([3, 9])),
            IndexOutOfRangeError,
            "token id 9 at position 1 of ids is out of range for a vocabulary of 4: "
            "allowed ids are [0, 4)",
        ),
        (
            lambda: NGramModel.fit(TRAIN, 4).next_token_probs([5]),
            IndexOutOfRangeError,
            "token id 5 at position 0 of context is out of range for a vocabulary of 4: "
            "allowed ids are [0, 4)",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_value(call, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        call()
