"""The story grammar of the built-in corpus: its vocabulary and `story`, one story per call.

`story(tape)` makes every random decision through `tape.pick(choice)` and writes forced text with
`tape.emit(text)` (a name introduced at the start reused later, say). Generation runs it with a
tape that samples and writes, scoring with one that reads (`tinytorch/data/corpus.py`).
"""

from __future__ import annotations

import functools

from tinytorch.data.choice import Choice, Tape, Weighted


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


def story(t: Tape) -> None:
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


def _event(t: Tape, hero: str, friend: str, look: str, thing: str) -> None:
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
