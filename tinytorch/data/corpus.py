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

How the probability stays exact: the grammar is one function, ``_story``, that talks to a "tape"
through two calls, ``pick(choice)`` (a weighted choice among literal strings) and ``emit(text)``
(text fixed by earlier choices, e.g. a name introduced at the start being reused). Generation runs
it with a tape that samples and writes; scoring runs the *same* function with a tape that reads.
Every ``Choice`` is prefix-free (no option is a prefix of another, checked on construction), so
at each pick at most one option matches the text: the derivation is unique and
log2 P(text) = sum of log2 P(option) over the picks made.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn, Protocol

from tinytorch.core.checks import is_int

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


def _article(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _maybe(modifiers: Weighted, words: Weighted, bare: float) -> list[tuple[str, float]]:
    """Every word alone (relative weight ``bare``) or after one modifier, as one flat choice.

    An optional word cannot be its own pick (an empty option leaves no trace), so the
    modifier and the word are chosen together.
    """
    mods = [("", bare), *modifiers]
    total = sum(w for _, w in mods)
    return [(m + word, wm / total * ww) for m, wm in mods for word, ww in words]


# --- vocabulary -----------------------------------------------------------------------------
# Weights are relative: common options and a tail of rarer ones, like real text.

_GIRLS = [("Lily", 3), ("Mia", 3), ("Anna", 3), ("Emma", 3), ("Lucy", 2), ("Rose", 2),
          ("Kate", 2), ("Zoe", 2), ("Ella", 2), ("Jane", 2), ("Amy", 2), ("Ruby", 2),
          ("Nora", 1), ("Ivy", 1), ("Grace", 1), ("Daisy", 1), ("Clara", 1), ("Molly", 1),
          ("Pia", 1), ("Wendy", 1), ("Alice", 1), ("Bella", 1), ("Chloe", 1), ("Fiona", 1),
          ("Hanna", 1), ("Iris", 1), ("Julia", 1), ("Maya", 1), ("Olive", 1),
          ("Sara", 1)]  # fmt: skip
_BOYS = [("Tom", 3), ("Ben", 3), ("Max", 3), ("Leo", 3), ("Sam", 2), ("Jack", 2),
         ("Tim", 2), ("Finn", 2), ("Joe", 2), ("Dan", 2), ("Bob", 2), ("Ned", 2),
         ("Oscar", 1), ("Felix", 1), ("Hugo", 1), ("Otto", 1), ("Ravi", 1), ("Carl", 1),
         ("Pete", 1), ("Victor", 1), ("Adam", 1), ("Eli", 1), ("Gus", 1), ("Ian", 1),
         ("Kai", 1), ("Luke", 1), ("Noah", 1), ("Paul", 1), ("Rex", 1), ("Theo", 1)]  # fmt: skip
_IS_GIRL = {name: True for name, _ in _GIRLS} | {name: False for name, _ in _BOYS}
_NAME_WEIGHT = dict(_GIRLS + _BOYS)
NAMES = Choice(_GIRLS + _BOYS)

_KINDS = [("cat", 3), ("dog", 3), ("rabbit", 2), ("fox", 2), ("bear", 2), ("mouse", 2),
          ("duck", 2), ("frog", 2), ("owl", 2), ("pig", 2), ("lamb", 1), ("goat", 1),
          ("squirrel", 1), ("turtle", 1), ("wolf", 1), ("lion", 1), ("horse", 1),
          ("hedgehog", 1), ("penguin", 1), ("elephant", 1), ("tiger", 1), ("monkey", 1),
          ("deer", 1), ("bee", 1), ("crab", 1), ("snail", 1), ("zebra", 1), ("panda", 1),
          ("kitten", 1), ("puppy", 1)]  # fmt: skip
_LOOKS = [("little ", 3), ("big ", 2), ("happy ", 2), ("old ", 2), ("shy ", 2), ("brave ", 2),
          ("kind ", 2), ("clever ", 1), ("tiny ", 1), ("young ", 1), ("curious ", 1),
          ("sleepy ", 1), ("silly ", 1), ("funny ", 1), ("gentle ", 1), ("grumpy ", 1),
          ("lazy ", 1), ("proud ", 1), ("quiet ", 1), ("busy ", 1), ("smart ", 1),
          ("strong ", 1), ("fluffy ", 1), ("noisy ", 1), ("polite ", 1), ("friendly ", 1),
          ("lucky ", 1), ("cheerful ", 1), ("careful ", 1), ("hungry ", 1)]  # fmt: skip
HERO_ADJ = Choice([(_article(look), w) for look, w in _LOOKS])
KIND = Choice(_KINDS)
A_KIND = Choice([(_article(p), w) for p, w in _maybe(_LOOKS, _KINDS, bare=12)])

OPENING = Choice([("Once upon a time, there was ", 3), ("Long ago, there lived ", 2),
                  ("There once was ", 2), ("In a far away land lived ", 1),
                  ("Once there was ", 1), ("In a small town lived ", 1),
                  ("Not long ago, there was ", 1), ("Deep in the woods lived ", 1)])  # fmt: skip
NAMED = Choice([(" named ", 1), (" called ", 1)])
LIKES = Choice([(" loved to ", 3), (" liked to ", 2), (" wanted to ", 1), (" hoped to ", 1)])
ACTIVITY = Choice([("sing", 2), ("dance", 2), ("read books", 2), ("climb trees", 2),
                   ("play games", 2), ("draw pictures", 1), ("bake cakes", 1),
                   ("swim", 1), ("run fast", 1), ("look at the stars", 1),
                   ("pick flowers", 1), ("build towers", 1), ("jump in puddles", 1),
                   ("tell jokes", 1), ("fly kites", 1), ("paint", 1), ("ride a bike", 1),
                   ("play the drum", 1), ("catch bugs", 1), ("watch the clouds", 1),
                   ("plant seeds", 1), ("make friends", 1), ("count sheep", 1),
                   ("eat honey", 1), ("hide and seek", 1), ("learn new words", 1),
                   ("help others", 1), ("collect leaves", 1), ("take long walks", 1),
                   ("visit the sea", 1)])  # fmt: skip
ACTIVITY_END = Choice([(".", 3), (" every day.", 2), (" all the time.", 1), (" with ", 2)])
# A description of the hero: "She had long brown ears and pink paws."
_COLORS = ("brown ", "white ", "black ", "grey ", "orange ", "golden ", "pink ", "red ")
_PARTS = ("ears", "eyes", "feet", "paws", "whiskers", "spots", "stripes", "cheeks")
DESC = Choice(_maybe(
    [("long ", 1), ("short ", 1), ("big ", 1), ("small ", 1), ("soft ", 1), ("round ", 1)],
    [(color + part, 1) for color in _COLORS for part in _PARTS],
    bare=3,
))  # fmt: skip
FAMILY = Choice([("mother", 2), ("father", 2), ("sister", 1), ("brother", 1), ("grandma", 1),
                 ("grandpa", 1), ("friends", 2)])  # fmt: skip

WHEN = Choice([(" One day, ", 4), (" One morning, ", 2), (" One sunny day, ", 1),
               (" One evening, ", 1), (" On a cold day, ", 1), (" On a warm day, ", 1),
               (" One rainy day, ", 1), (" After lunch, ", 1)])  # fmt: skip
WENT = Choice([(" went to the ", 4), (" walked to the ", 2), (" ran to the ", 1),
               (" hopped to the ", 1)])  # fmt: skip
_PLACES = [("park", 4), ("forest", 4), ("beach", 3), ("river", 3), ("garden", 3),
           ("market", 2), ("farm", 2), ("lake", 2), ("hill", 2), ("school", 2),
           ("library", 1), ("zoo", 1), ("pond", 1), ("field", 1), ("village", 1),
           ("castle", 1), ("meadow", 1), ("bakery", 1), ("cave", 1), ("station", 1),
           ("harbor", 1), ("island", 1), ("mountain", 1), ("orchard", 1), ("playground", 1),
           ("museum", 1), ("bridge", 1), ("city", 1), ("barn", 1), ("valley", 1)]  # fmt: skip
_PLACE_LOOKS = [("big ", 2), ("old ", 2), ("quiet ", 1), ("sunny ", 1), ("dark ", 1),
                ("green ", 1), ("busy ", 1), ("little ", 1), ("windy ", 1), ("snowy ", 1),
                ("pretty ", 1), ("far ", 1)]  # fmt: skip
PLACE = Choice(_maybe(_PLACE_LOOKS, _PLACES, bare=10))
FOUND = Choice([(" and found ", 4), (" and saw ", 1), (" and picked up ", 1)])
OBJECT_ADJ = Choice([(_article(adj) + " ", w) for adj, w in [
    ("shiny", 3), ("small", 3), ("old", 2), ("big", 2), ("red", 2), ("blue", 2), ("green", 1),
    ("yellow", 1), ("golden", 1), ("broken", 1), ("strange", 1), ("pretty", 1), ("soft", 1),
    ("magic", 1), ("heavy", 1), ("purple", 1), ("round", 1), ("wooden", 1), ("tiny", 1),
    ("orange", 1), ("silver", 1), ("dusty", 1), ("striped", 1), ("funny", 1), ("little", 1),
    ("new", 1), ("pink", 1), ("white", 1), ("black", 1), ("brown", 1),
]])  # fmt: skip
OBJECT = Choice([("ball", 4), ("box", 3), ("key", 3), ("book", 3), ("hat", 2), ("kite", 2),
                 ("shell", 2), ("stone", 2), ("drum", 1), ("map", 1), ("cup", 1), ("bell", 1),
                 ("coin", 1), ("feather", 1), ("ring", 1), ("umbrella", 1), ("boat", 1),
                 ("flute", 1), ("lamp", 1), ("sock", 1), ("spoon", 1), ("clock", 1),
                 ("basket", 1), ("brush", 1), ("candle", 1), ("rope", 1), ("whistle", 1),
                 ("puzzle", 1), ("kettle", 1), ("jar", 1)])  # fmt: skip
OBJECT_WHERE = Choice([(".", 4), (" under a tree.", 1), (" in the grass.", 1),
                       (" near a rock.", 1), (" in the sand.", 1), (" by the water.", 1),
                       (" on the path.", 1)])  # fmt: skip

MEET_LEAD = Choice([(" There, ", 2), (" Soon, ", 1), (" Then ", 1), (" Just then, ", 1)])
MEET = Choice([(" met ", 3), (" saw ", 1), (" found ", 1)])
GREETING = Choice([("Hello", 3), ("Hi", 2), ("Good morning", 1), ("Hey", 1),
                   ("Nice to meet you", 1)])  # fmt: skip
SAY = Choice([("said ", 4), ("called ", 1), ("shouted ", 1), ("cried ", 1)])
# A question about the object, then the words the question fixes after the object.
_REQUESTS = [(' "Do you want to play with my ', '?" asked ', 3), (' "Look at my ', '!" said ', 2),
             (' "Can you help me carry this ', '?" asked ', 1),
             (' "Do you like my ', '?" asked ', 2),
             (' "Would you like to see my ', '?" asked ', 1)]  # fmt: skip
REQUEST = Choice([(question, w) for question, _, w in _REQUESTS])
_AFTER_REQUEST = {question: after for question, after, _ in _REQUESTS}
# The friend's answer decides how the story ends; a model must remember it.
_REPLIES = [(' "Yes, I would love to!" ', 4, True), (' "Of course!" ', 2, True),
            (' "Oh, how lovely!" ', 1, True), (' "No, I am busy," ', 2, False),
            (' "Go away!" ', 1, False), (' "Not today," ', 1, False)]  # fmt: skip
REPLY = Choice([(reply, w) for reply, w, _ in _REPLIES])
_FRIENDLY = {reply for reply, _, friendly in _REPLIES if friendly}

NEXT = Choice([(" Then ", 3), (" After that, ", 2), (" Later, ", 2), (" Soon, ", 1),
               (" Next, ", 1), (" In the end, ", 6)])  # fmt: skip
_END = " In the end, "
_MAX_EVENTS = 4
_ADVERBS = [("quickly ", 1), ("slowly ", 1), ("happily ", 1), ("quietly ", 1), ("also ", 1),
            ("bravely ", 1), ("sadly ", 1), ("finally ", 1)]  # fmt: skip
_VERBS = [("went to the ", 4), ("played with the ", 3), ("saw ", 3), ("ate ", 2),
          ("felt ", 2), ("put on ", 1), ("sang a ", 1), ("looked for ", 1), ("lost the ", 1),
          ("found ", 1)]  # fmt: skip
EVENT = Choice([(" " + text, w) for text, w in _maybe(_ADVERBS, _VERBS, bare=10)]
               + [(' said, "', 2), (' asked, "', 1)])  # fmt: skip
_VERB_OF = {" " + m + v: v for m in ["", *(a for a, _ in _ADVERBS)] for v, _ in _VERBS}
FOOD = Choice([(_article(p), w) for p, w in _maybe(
    [("big ", 1), ("warm ", 1), ("sweet ", 1), ("tasty ", 1)],
    [("apple", 2), ("cake", 2), ("pie", 1), ("cookie", 1), ("pear", 1), ("sandwich", 1),
     ("carrot", 1), ("muffin", 1), ("plum", 1), ("egg", 1), ("banana", 1), ("orange", 1)],
    bare=8,
)])  # fmt: skip
DOING = Choice([(" sleeping", 2), (" eating", 2), (" dancing", 1), (" singing", 1),
                (" running", 1), (" hiding", 1), (" reading", 1), (" crying", 1)])  # fmt: skip
NEAR = Choice([(" by the ", 2), (" near the ", 1), (" in the ", 1), (" behind the ", 1)])
TAIL = Choice([(".", 6), (" in the morning.", 1), (" after lunch.", 1), (" with a smile.", 1),
               (" once more.", 1), (" at night.", 1), (" right away.", 1)])  # fmt: skip
HOW_LONG = Choice([(" all day.", 3), (" for a long time.", 2), (" until dinner.", 1),
                   (" in the sun.", 1), (" together.", 1)])  # fmt: skip
FEELING = Choice(_maybe([("very ", 2), ("a bit ", 1), ("so ", 1)], [
    ("happy", 3), ("tired", 2), ("hungry", 2), ("sleepy", 1), ("sad", 1), ("cold", 1),
    ("proud", 1), ("scared", 1), ("excited", 1), ("lonely", 1),
], bare=4))  # fmt: skip
LINE = Choice([("I am hungry.", 2), ("This is fun!", 2), ("Let's go home.", 1),
               ("I love this place!", 1), ("What a lovely day!", 1), ("I'm so happy!", 1),
               ("Don't be scared.", 1), ("Look over there!", 1), ("I can do it!", 1),
               ("We are a good team.", 1), ("Let's go to the ", 2), ("I want to ", 2),
               ("Look at that ", 1)])  # fmt: skip
# Lines that continue with another pick, and the punctuation after it.
_LINE_SLOT = {"Let's go to the ": (PLACE, "!"), "I want to ": (ACTIVITY, "."),
              "Look at that ": (KIND, "!")}  # fmt: skip
QUESTION = Choice([("Where are we?", 2), ("Can we play again?", 1), ("What is that?", 2),
                   ("Are you hungry?", 1), ("Is it time to go?", 1),
                   ("Who lives here?", 1)])  # fmt: skip
CLOTHES = Choice(_maybe([("red ", 1), ("blue ", 1), ("new ", 1), ("warm ", 1)], [
    ("hat", 2), ("coat", 2), ("boots", 1), ("scarf", 1), ("shoes", 1), ("gloves", 1),
], bare=4))  # fmt: skip
SONG = Choice([("happy", 2), ("silly", 1), ("quiet", 1), ("long", 1), ("sad", 1),
               ("funny", 1)])  # fmt: skip

HAPPY_END = Choice([(" became best friends.", 3), (" played together every day.", 2),
                    (" were very happy.", 1), (" shared everything.", 1)])  # fmt: skip
SAD_END = Choice([(" went home alone.", 2), (" found a new friend.", 1),
                  (" said sorry, and they played together.", 1)])  # fmt: skip
KEEP = Choice([(" kept the ", 3), (" put the ", 1), (" hid the ", 1)])
KEEP_WHERE = Choice([(" in ", 2), (" under ", 1), (" next to ", 1)])
KEEP_SPOT = Choice([("bed", 2), ("pillow", 1), ("window", 1), ("door", 1), ("chair", 1),
                    ("lamp", 1)])  # fmt: skip
KEEP_HOW = Choice([(".", 3), (" forever.", 2), (" for many years.", 1),
                   (" and smiled.", 1)])  # fmt: skip


@functools.cache
def _hero_ref(hero: str, capital: bool) -> Choice:
    """Refer to the hero by name or by pronoun; the pronoun must agree with the name."""
    pronoun = "she" if _IS_GIRL[hero] else "he"
    return Choice([(hero, 1), (pronoun.capitalize() if capital else pronoun, 1)])


@functools.cache
def _friend_names(hero: str) -> Choice:
    """Any name but the hero's, with the same relative weights."""
    return Choice([(name, _NAME_WEIGHT[name]) for name in NAMES.options if name != hero])


@functools.cache
def _the_thing(look: str, thing: str) -> Choice:
    """The found object again, sometimes with the adjective it was found with."""
    return Choice([(thing, 2), (look.split(" ", 1)[1] + thing, 1)])


@functools.cache
def _subject(hero: str, friend: str) -> Choice:
    return Choice([(hero, 2), (friend, 2), ("they", 1)])


def _possessive(subject: str) -> str:
    if subject == "they":
        return "their"
    return "her" if _IS_GIRL[subject] else "his"


# --- the grammar ----------------------------------------------------------------------------


class _Tape(Protocol):
    def pick(self, choice: Choice) -> str: ...
    def emit(self, text: str) -> None: ...


def _story(t: _Tape) -> None:
    """One story, one line. Every random decision is a ``t.pick``; everything else is forced."""
    t.pick(OPENING)
    t.pick(HERO_ADJ)
    t.pick(KIND)
    t.pick(NAMED)
    hero = t.pick(NAMES)
    t.emit(". ")
    t.pick(_hero_ref(hero, capital=True))
    t.pick(LIKES)
    t.pick(ACTIVITY)
    if t.pick(ACTIVITY_END) == " with ":
        t.emit(_possessive(hero) + " ")
        t.pick(FAMILY)
        t.emit(".")
    t.emit(" ")
    t.pick(_hero_ref(hero, capital=True))
    t.emit(" had ")
    t.pick(DESC)
    t.emit(" and ")
    t.pick(DESC)
    t.emit(".")

    t.pick(WHEN)
    t.pick(_hero_ref(hero, capital=False))
    t.pick(WENT)
    t.pick(PLACE)
    t.pick(FOUND)
    look = t.pick(OBJECT_ADJ)
    thing = t.pick(OBJECT)
    t.pick(OBJECT_WHERE)

    t.pick(MEET_LEAD)
    t.pick(_hero_ref(hero, capital=False))
    t.pick(MEET)
    t.pick(A_KIND)
    t.pick(NAMED)
    friend = t.pick(_friend_names(hero))
    t.emit('. "')
    t.pick(GREETING)
    t.emit(f', {friend}!" ')
    t.pick(SAY)
    t.emit(hero + ".")
    request = t.pick(REQUEST)
    t.emit(f"{thing}{_AFTER_REQUEST[request]}{hero}.")
    friendly = t.pick(REPLY) in _FRIENDLY
    t.emit(f"said {friend}.")

    for _ in range(_MAX_EVENTS):
        if t.pick(NEXT) == _END:
            break
        _event(t, hero, friend, look, thing)
    else:
        t.emit(_END)

    if friendly:
        t.emit(f"{hero} and {friend}")
        t.pick(HAPPY_END)
    else:
        t.emit(hero)
        t.pick(SAD_END)
    t.emit(" ")
    t.pick(_hero_ref(hero, capital=True))
    t.pick(KEEP)
    t.pick(_the_thing(look, thing))
    t.pick(KEEP_WHERE)
    t.emit(_possessive(hero) + " ")
    t.pick(KEEP_SPOT)
    t.pick(KEEP_HOW)
    t.emit("\n")


def _event(t: _Tape, hero: str, friend: str, look: str, thing: str) -> None:
    """One sentence in the middle of a story, after a connective such as " Then "."""
    subject = t.pick(_subject(hero, friend))
    event = t.pick(EVENT)
    if event == ' said, "':
        line = t.pick(LINE)
        if line in _LINE_SLOT:
            slot, punctuation = _LINE_SLOT[line]
            t.pick(slot)
            t.emit(punctuation)
        t.emit('"')
        return
    if event == ' asked, "':
        t.pick(QUESTION)
        t.emit('"')
        return
    verb = _VERB_OF[event]
    if verb == "went to the ":
        t.pick(PLACE)
        t.pick(TAIL)
    elif verb == "played with the ":
        t.pick(_the_thing(look, thing))
        t.pick(HOW_LONG)
    elif verb == "saw ":
        t.pick(A_KIND)
        t.pick(DOING)
        t.pick(NEAR)
        t.pick(PLACE)
        t.emit(".")
    elif verb == "ate ":
        t.pick(FOOD)
        t.pick(TAIL)
    elif verb == "felt ":
        t.pick(FEELING)
        t.emit(".")
    elif verb == "put on ":
        t.emit(_possessive(subject) + " ")
        t.pick(CLOTHES)
        t.pick(TAIL)
    elif verb == "sang a ":
        t.pick(SONG)
        t.emit(" song.")
    elif verb == "looked for ":
        t.pick(A_KIND)
        t.pick(TAIL)
    elif verb == "lost the ":
        t.pick(_the_thing(look, thing))
        t.emit(".")
    else:  # "found "
        t.pick(OBJECT_ADJ)
        t.pick(OBJECT)
        t.pick(TAIL)


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
        _story(tape)
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
        _story(tape)
    return tape.log2_prob
