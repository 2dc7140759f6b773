import math
import re

import pytest

from tinytorch.data import Corpus, generate_corpus, log2_prob_of
from tinytorch.data.choice import Choice

# A story from the grammar with every choice made by hand (no middle events, friendly reply).
STORY = (
    "Once upon a time, there was a little cat named Lily. She loved to sing. She had brown ears"
    " and pink paws. One day, she went to the park and found a red ball. There, she met a dog"
    ' named Tom. "Hello, Tom!" said Lily. "Do you want to play with my ball?" asked Lily.'
    ' "Yes, I would love to!" said Tom. In the end, Lily and Tom became best friends. She kept'
    " the ball in her bed.\n"
)
# The probability of each choice in STORY, counted by hand from the weight tables.
STORY_CHOICES = [
    (3, 12),  # "Once upon a time, there was "
    (3, 38),  # "a little "
    (3, 42),  # "cat"
    (1, 2),  # " named "
    (3, 92),  # "Lily" (names weigh 46 + 46)
    (1, 2),  # "She" rather than "Lily"
    (3, 7),  # " loved to "
    (2, 35),  # "sing"
    (3, 8),  # "."
    (1, 2),  # "She"
    (1, 192),  # "brown ears": no size word (3/9) * one of 8 colours x 8 parts
    (1, 192),  # "pink paws"
    (4, 12),  # " One day, "
    (1, 2),  # "she"
    (4, 8),  # " went to the "
    (10 * 4, 24 * 47),  # "park": no adjective (10/24) * park (4/47)
    (4, 6),  # " and found "
    (2, 38),  # "a red "
    (4, 43),  # "ball"
    (4, 10),  # "."
    (2, 5),  # " There, "
    (1, 2),  # "she"
    (3, 5),  # " met "
    (12 * 3, 50 * 42),  # "a dog": no adjective (12/50) * dog (3/42)
    (1, 2),  # " named "
    (3, 89),  # "Tom", among the names other than Lily
    (3, 8),  # "Hello"
    (4, 7),  # "said "
    (3, 9),  # ' "Do you want to play with my '
    (4, 11),  # ' "Yes, I would love to!" '
    (6, 15),  # " In the end, "
    (3, 7),  # " became best friends."
    (1, 2),  # "She"
    (3, 5),  # " kept the "
    (2, 3),  # "ball" rather than "red ball"
    (2, 4),  # " in "
    (2, 7),  # "bed"
    (3, 7),  # "."
]


def test_hand_counted_story_scores_exactly():
    expected = sum(math.log2(n / d) for n, d in STORY_CHOICES)
    assert log2_prob_of(STORY) == pytest.approx(expected, rel=1e-12)


def test_common_story_beats_rarer_one_by_the_hand_computed_margin():
    # Lily (weight 3) -> Pia (weight 1); Tom is then one of 91 rather than 89 remaining weight.
    rarer_hero = STORY.replace("Lily", "Pia")
    margin = log2_prob_of(STORY) - log2_prob_of(rarer_hero)
    assert margin == pytest.approx(math.log2(3) + math.log2(91 / 89), rel=1e-12)
    # "Once upon a time, there was " (3/12) -> "Deep in the woods lived " (1/12).
    rarer_opening = STORY.replace("Once upon a time, there was ", "Deep in the woods lived ")
    assert log2_prob_of(STORY) - log2_prob_of(rarer_opening) == pytest.approx(math.log2(3))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Hello world\n",
        STORY[:-1],  # a story must end with its newline
        STORY + "x",
        STORY.replace("said Lily.", "said Mia."),  # the hero's name is fixed once introduced
        STORY.replace("She had", "He had"),  # pronoun must agree with Lily
        STORY.replace("her bed", "his bed"),
        STORY.replace("kept the ball", "kept the kite"),  # the object found is the one kept
        STORY.replace("She kept the ball", "She kept the blue ball"),  # found a *red* ball
        STORY.replace("named Tom", "named Lily").replace("Tom", "Lily"),  # friend != hero
        STORY.replace("In the end, Lily and Tom became", "In the end, Lily became"),
    ],
)
def test_scorer_rejects_text_outside_the_grammar(text):
    with pytest.raises(ValueError):
        log2_prob_of(text)


def test_rejection_says_where():
    where = STORY.index("said Lily.") + len("said ")
    with pytest.raises(ValueError, match=rf"at char {where} expected 'Lily\.', found 'Mia\."):
        log2_prob_of(STORY.replace("said Lily.", "said Mia."))


@pytest.mark.parametrize("seed", [0, 1, 2, 7, 12345])
def test_scorer_reproduces_tracked_log2_prob(seed):
    corpus = generate_corpus(30_000, seed=seed)
    assert corpus.log2_prob < 0
    assert log2_prob_of(corpus.text) == pytest.approx(corpus.log2_prob, rel=1e-9)


def test_deterministic_per_seed_and_seeds_differ():
    a, b = generate_corpus(20_000, seed=3), generate_corpus(20_000, seed=3)
    assert a == b
    assert generate_corpus(20_000, seed=4).text != a.text


def test_whole_stories_just_past_the_requested_size():
    corpus = generate_corpus(10_000, seed=0)
    stories = corpus.text.split("\n")
    assert stories[-1] == ""  # ends on a story boundary
    assert corpus.num_chars >= 10_000
    assert corpus.num_chars - (len(stories[-2]) + 1) < 10_000  # stopped after the first crossing
    assert all(200 <= len(s) <= 800 for s in stories[:-1])


def test_entropy_rate_and_alphabet():
    corpus = generate_corpus(200_000, seed=0)
    # The documented floor: about 0.29 bits per character.
    assert 0.25 < corpus.entropy_bits_per_char < 0.33
    assert corpus.entropy_nats_per_char == pytest.approx(corpus.entropy_bits_per_char * math.log(2))
    assert corpus.entropy_bits_per_char == -corpus.log2_prob / corpus.num_chars
    assert 50 <= len(set(corpus.text)) <= 64
    assert re.fullmatch(r"[A-Za-z .,!?'\"\n]+", corpus.text)


def test_split_at_story_boundary_keeps_both_parts_scorable():
    corpus = generate_corpus(50_000, seed=5)
    train, val = corpus.split(0.1)
    assert train + val == corpus.text
    assert train.endswith("\n")
    assert 0.09 < len(val) / corpus.num_chars < 0.11
    total = log2_prob_of(train) + log2_prob_of(val)
    assert total == pytest.approx(corpus.log2_prob, rel=1e-9)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        generate_corpus(5_000).split(fraction)


def test_split_of_a_single_story_is_refused():
    one_story = Corpus(text=STORY, log2_prob=log2_prob_of(STORY))
    with pytest.raises(ValueError, match="too small"):
        one_story.split(0.1)


@pytest.mark.parametrize("num_chars", [0, -5, 2.5, True])
def test_generate_rejects_bad_size(num_chars):
    with pytest.raises(ValueError, match="num_chars"):
        generate_corpus(num_chars)


def test_choice_probabilities_and_prefix_check():
    choice = Choice([("yes", 3), ("no", 1)])
    assert choice.log2_probs == (math.log2(0.75), math.log2(0.25))
    assert choice.options[choice.sample(0.74)] == "yes"
    assert choice.options[choice.sample(0.76)] == "no"
    assert choice.match("say no", 4) == 1 and choice.match("say no", 0) is None
    with pytest.raises(ValueError, match="ambiguous"):
        Choice([("the ", 1), ("the big ", 1)])
    with pytest.raises(ValueError, match="positive"):
        Choice([("a", 1), ("b", 0)])
