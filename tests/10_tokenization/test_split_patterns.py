"""Pre-split patterns: each alias a file may spell splits text exactly like the pattern it names,
and any other regex is refused (a regex from a file is never compiled)."""

from __future__ import annotations

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st
from tiktoken_ext.openai_public import r50k_pat_str

from tinytorch.text.split_patterns import ALIASES, PATTERNS, pattern_name

# Characters where the spellings could differ: every kind of whitespace, letters of each case
# class, marks, digits, contractions, punctuation.
TRICKY = " \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u3000aZéǅ\u0301ẞ1٣²'sStTdLlm!.,/-_😀中"
# cl100k as tiktoken >= 0.8 spells it: faster, and NOT the same at the very end of a text.
TIKTOKEN_CL100K = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)


def test_tiktokens_gpt2_spelling_is_an_alias():
    assert pattern_name(r50k_pat_str) == "gpt2"
    assert {name: pattern_name(spelling) for name, spelling in PATTERNS.items()} == {
        name: name for name in PATTERNS
    }


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=TRICKY, max_size=40) | st.text(max_size=40))
def test_every_alias_splits_like_its_pattern(text):
    for alias, name in ALIASES.items():
        assert regex.findall(alias, text) == regex.findall(PATTERNS[name], text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=TRICKY, max_size=40) | st.text(max_size=40))
def test_tiktokens_current_cl100k_spelling_differs_only_at_the_end(text):
    text += "x"  # a text that does not end in whitespace
    assert regex.findall(TIKTOKEN_CL100K, text) == regex.findall(PATTERNS["gpt4"], text)


def test_aliases_split_real_text_alike(pydoc_text):
    text = pydoc_text[1]
    for alias, name in ALIASES.items():
        assert regex.findall(alias, text) == regex.findall(PATTERNS[name], text)


def test_tiktokens_current_cl100k_spelling_differs_at_the_end_of_a_text():
    """Why that spelling is no alias of gpt4: whitespace ending a text stays one piece there."""
    assert regex.findall(PATTERNS["gpt4"], "a\n ") == ["a", "\n", " "]
    assert regex.findall(TIKTOKEN_CL100K, "a\n ") == ["a", "\n "]
    assert regex.findall(PATTERNS["gpt4"], "a\n x") == regex.findall(TIKTOKEN_CL100K, "a\n x")
    with pytest.raises(ValueError, match="unknown pre-split regex"):
        pattern_name(TIKTOKEN_CL100K)


def test_unknown_regex_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"unknown pre-split regex '\\\\w\+': only the gpt2"):
        pattern_name(r"\w+")
