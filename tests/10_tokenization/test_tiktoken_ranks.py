"""tiktoken rank files in: the oracle is tiktoken itself, loading the same file.

The rank file (conftest.py) holds the tokens of a BPE trained by Hugging Face `tokenizers`,
rank = its id there, so one text is compared across all three libraries (~215k characters).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import tiktoken
from tiktoken.load import load_tiktoken_bpe
from tiktoken_ext.openai_public import r50k_pat_str

from tinytorch.text.split_patterns import PATTERNS
from tinytorch.text.tokenization import BPETokenizer

ENDOFTEXT = "<|endoftext|>"
SPECIALS = {ENDOFTEXT: 0}


@pytest.fixture(autouse=True, scope="module")
def no_tiktoken_cache():
    # tiktoken caches files by the hash of their path; an empty cache dir turns that off.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TIKTOKEN_CACHE_DIR", "")
        yield


def tiktoken_encoding(rank_file: Path, pat_str: str, special_tokens=SPECIALS) -> tiktoken.Encoding:
    ranks = load_tiktoken_bpe(str(rank_file))
    return tiktoken.Encoding(
        "test", pat_str=pat_str, mergeable_ranks=ranks, special_tokens=special_tokens
    )


@pytest.fixture(scope="module")
def from_ranks(hf_trained) -> BPETokenizer:
    return BPETokenizer.from_tiktoken(hf_trained.rank_file, pattern="gpt2", special_tokens=SPECIALS)


def test_rank_file_gives_tiktokens_ids_and_hugging_faces(hf_trained, from_ranks, compare_text):
    encoding = tiktoken_encoding(hf_trained.rank_file, r50k_pat_str)
    plain = compare_text.replace(ENDOFTEXT, "")
    # encode(text) == tiktoken's encode_ordinary(text), special strings or not
    assert from_ranks.encode(plain) == encoding.encode_ordinary(plain)
    assert from_ranks.encode(compare_text) == encoding.encode_ordinary(compare_text)
    # encode(text, "all") == tiktoken's encode(text, "all") == tokenizers' encode(text)
    ids = from_ranks.encode(compare_text, allowed_special="all")
    assert ids == encoding.encode(compare_text, allowed_special="all")
    assert ids == hf_trained.tokenizer.encode(compare_text).ids
    assert ids.count(0) == 69
    # tiktoken's own default refuses special strings; ours encodes them as text (above)
    with pytest.raises(ValueError, match="disallowed special token"):
        encoding.encode(compare_text)
    assert from_ranks.decode(ids) == encoding.decode(ids) == compare_text


def test_recovered_merges_are_the_trainers(hf_trained, from_ranks):
    from_json = BPETokenizer.from_pretrained(hf_trained.json_dir)
    assert from_ranks.byte_ids == from_json.byte_ids
    assert from_ranks.merges == from_json.merges
    assert from_ranks.merge_ids == from_json.merge_ids


def shifted_rank_file(rank_file: Path, tmp_path: Path, gap_from: int, gap: int) -> Path:
    """The rank file with ranks >= gap_from moved up by `gap`: ids no token has."""
    out = []
    for line in rank_file.read_text(encoding="ascii").splitlines():
        token, rank = line.split()
        out.append(f"{token} {int(rank) + gap * (int(rank) >= gap_from)}\n")
    path = tmp_path / "gapped.tiktoken"
    path.write_text("".join(out), encoding="ascii")
    return path


def test_ids_with_gaps_encode_as_tiktoken_and_cannot_be_decoded(hf_trained, compare_text, tmp_path):
    path = shifted_rank_file(hf_trained.rank_file, tmp_path, gap_from=1500, gap=5)
    specials = {ENDOFTEXT: 3000}
    tokenizer = BPETokenizer.from_tiktoken(path, pattern="gpt2", special_tokens=specials)
    encoding = tiktoken_encoding(path, r50k_pat_str, specials)
    text = compare_text[:50_000]
    ids = tokenizer.encode(text, allowed_special="all")
    assert ids == encoding.encode(text, allowed_special="all")
    assert max(ids) == 3000 and any(i > 1504 for i in ids)
    assert tokenizer.vocab_size == 3001
    assert tokenizer.decode(ids) == text
    with pytest.raises(ValueError, match="token id 1502 at position 1 has no token: it is a gap"):
        tokenizer.decode([ids[0], 1502])


@pytest.mark.parametrize("pattern", ["gpt4", "o200k"])
def test_each_pattern_splits_as_tiktoken_does(pattern, pydoc_text, compare_text, tmp_path):
    """A tinytorch-trained BPE written as a rank file: tiktoken splits and merges alike."""
    trained = BPETokenizer.train(pydoc_text[0][:60_000], 800, pattern=pattern, special_tokens=[])
    path = tmp_path / "ranks.tiktoken"
    lines = [
        f"{base64.b64encode(trained.decode_bytes([i])).decode()} {i}\n"
        for i in range(trained.pad_id)
    ]
    path.write_text("".join(lines), encoding="ascii")
    encoding = tiktoken_encoding(path, PATTERNS[pattern], {})
    loaded = BPETokenizer.from_tiktoken(path, pattern=pattern)
    text = compare_text[:80_000] + "\u3000日本語 123456 don'T\r\n  \n\t x "
    assert loaded.encode(text) == encoding.encode_ordinary(text) == trained.encode(text)
    assert (loaded.merges, loaded.merge_ids) == (trained.merges, trained.merge_ids)


# ------------------------------------------------------------------------- refused files
def rank_file_with(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "bad.tiktoken"
    path.write_text("".join(line + "\n" for line in lines), encoding="ascii")
    return path


BYTES = [f"{base64.b64encode(bytes([b])).decode()} {b}" for b in range(256)]
AB = base64.b64encode(b"ab").decode()


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (BYTES + [f"{AB} 256 7"], r"line 257: expected 'base64-token rank', got b'YWI= 256 7'"),
        (BYTES + ["!!!= 256"], r"line 257: b'!!!=' is not base64"),
        (BYTES + [f"{AB} -1"], r"line 257: rank b'-1' is not an integer in \[0, 10\*\*9\)"),
        (BYTES + [f"{AB} 256", f"{AB} 257"], r"line 258: token b'ab' repeats line 257"),
        (BYTES + [f"{AB} 255"], r"line 257: rank 255 repeats line 256"),
        (BYTES[1:], "no token for byte 0 and 0 more: a byte-level BPE needs all 256"),
        (
            BYTES + [f"{base64.b64encode(b'abc').decode()} 256"],
            r"line 257: token b'abc' \(rank 256\) is not the merge of two tokens of lower rank "
            r"\(BPE leaves 3 pieces of it\)",
        ),
        (
            BYTES + [f"{base64.b64encode(b'a' * 1025).decode()} 256"],
            r"line 257: a token of 1025 bytes \(allowed: 1 to 1024\)",
        ),
    ],
)
def test_bad_rank_file_is_refused_naming_the_line(tmp_path, lines, message):
    path = rank_file_with(tmp_path, lines)
    with pytest.raises(ValueError, match=message) as info:
        BPETokenizer.from_tiktoken(path)
    assert str(path) in str(info.value)


def test_special_ids_and_pattern_are_checked(tmp_path):
    path = rank_file_with(tmp_path, BYTES + [f"{AB} 256"])
    with pytest.raises(
        ValueError, match=r"special token '<\|eot\|>' has id 256, which is the token"
    ):
        BPETokenizer.from_tiktoken(path, special_tokens={"<|eot|>": 256})
    with pytest.raises(TypeError, match="special_tokens must map names to ids"):
        BPETokenizer.from_tiktoken(path, special_tokens=["<|eot|>"])
    with pytest.raises(ValueError, match="pattern must be one of"):
        BPETokenizer.from_tiktoken(tmp_path / "nowhere", pattern="cl100k_base")
    with pytest.raises(FileNotFoundError):
        BPETokenizer.from_tiktoken(tmp_path / "nowhere")
    tokenizer = BPETokenizer.from_tiktoken(path, special_tokens={"<|eot|>": 1000})
    assert tokenizer.encode("cab<|eot|>", allowed_special="all") == [99, 256, 1000]
