"""The pre-split patterns byte-level BPE tokenizers use, by name, and how files spell them.

BPE never merges across chunk boundaries, so words, numbers and punctuation stay separate
tokens. Each pattern matches every character of any text. A tokenizer file from another library
names its pattern by the regex itself; `pattern_name` recognises the spellings that are known to
split exactly like one of ours (tests hold each alias to its pattern) and refuses any other
regex, so no regex from a file is ever compiled.
"""

from __future__ import annotations

PATTERNS = {
    "gpt2": r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
    # cl100k_base as first published. tiktoken >= 0.8 spells it differently (`\s++$|...`), which
    # keeps whitespace at the very end of a text in one piece ("a\n " -> "a", "\n ", not
    # "a", "\n", " "); everywhere else the two split alike.
    "gpt4": (
        r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*"""
        r"""|\s*[\r\n]|\s+(?!\S)|\s+"""
    ),
    "o200k": "|".join(  # o200k_base
        [
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"""
            r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"""
            r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
            r"""\p{N}{1,3}""",
            r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
            r"""\s*[\r\n]+""",
            r"""\s+(?!\S)""",
            r"""\s+""",
        ]
    ),
}

# Other spellings of the same splits, as other libraries write them into their files.
ALIASES = {
    # tiktoken's r50k/p50k spelling (possessive quantifiers, `\s++$`), e.g. in converted files
    r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s""": "gpt2",
    # cl100k as first published, as Llama 3's and Qwen 2's tokenizer.json spell it
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+"""
    r"""[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+""": "gpt4",
}


def pattern_name(regex: str) -> str:
    """Name of the known pattern that `regex` spells; ValueError naming it if there is none."""
    for name, spelling in PATTERNS.items():
        if regex == spelling:
            return name
    if regex in ALIASES:
        return ALIASES[regex]
    raise ValueError(
        f"unknown pre-split regex {regex!r}: only the gpt2, gpt4 (cl100k) and o200k patterns are "
        "supported"
    )
