"""`tinytorch generate`: prompt + seeded continuation, and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinytorch import run_directory as rd
from tinytorch.text.tokenization import CharTokenizer


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tinytorch.cli import main

    out = tmp_path_factory.mktemp("run")
    assert main(["train", "--preset", "test", "--out", str(out), "--steps", "3"]) == 0
    return out


def test_generate_prints_prompt_then_continuation(run_dir: Path, cli) -> None:
    result = cli("generate", str(run_dir), "--prompt", "Once upon", "--max-new-tokens", "30")
    assert result.code == 0, result.err
    text = result.out.removesuffix("\n")
    assert text.startswith("Once upon")
    # One character per token, except special tokens, which decode to nothing (an undertrained
    # model still samples them now and then).
    assert len("Once upon") < len(text) <= len("Once upon") + 30
    alphabet = set(CharTokenizer.load(run_dir / rd.TOKENIZER_FILE).chars) | {"\ufffd"}
    assert set(text) <= alphabet


def test_generate_is_reproducible_for_a_seed(run_dir: Path, cli) -> None:
    def sample(*extra: str) -> str:
        result = cli("generate", str(run_dir), "--prompt", "Tom", "--max-new-tokens", "40", *extra)
        assert result.code == 0, result.err
        return result.out

    assert sample("--seed", "1") == sample("--seed", "1")
    assert sample("--seed", "1") != sample("--seed", "2")
    greedy = sample("--temperature", "0", "--seed", "1")
    assert greedy == sample("--temperature", "0", "--seed", "2")  # greedy ignores the seed


def test_prompt_longer_than_the_context_window_still_generates(run_dir: Path, cli) -> None:
    prompt = "the cat sat on the mat. " * 3  # 72 characters, block size 16
    result = cli("generate", str(run_dir), "--prompt", prompt, "--max-new-tokens", "5")
    assert result.code == 0, result.err
    assert result.out.startswith(prompt)


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (("--prompt", "Tom", "--temperature", "-0.5"), ("--temperature", "-0.5")),
        (("--prompt", "Tom", "--temperature", "inf"), ("--temperature",)),
        (("--prompt", "Tom", "--max-new-tokens", "0"), ("--max-new-tokens must be at least 1",)),
        (("--prompt", "Tom", "--top-k", "0"), ("--top-k must be at least 1",)),
        (("--prompt", "Tom", "--top-k", "1000"), ("--top-k", "vocabulary size 61")),
        (("--prompt", "Tom", "--seed", "-2"), ("--seed must be >= 0",)),
        (("--prompt", ""), ("--prompt must not be empty",)),
        (("--prompt", "Tom ☃ says ü"), ("never saw", "☃", "ü")),
        ((), ("--prompt",)),
    ],
)
def test_generate_errors_are_one_line(run_dir: Path, cli, extra, fragments) -> None:
    cli("generate", str(run_dir), *extra).assert_error(*fragments)


def test_generate_from_a_directory_without_a_run(tmp_path: Path, cli) -> None:
    cli("generate", str(tmp_path), "--prompt", "Tom").assert_error("config.json", "missing")
    cli("generate", str(tmp_path / "absent"), "--prompt", "Tom").assert_error(
        "no such run directory"
    )


def test_generate_from_a_corrupt_checkpoint(run_dir: Path, tmp_path: Path, cli) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in (rd.CONFIG_FILE, rd.TOKENIZER_FILE):
        (broken / name).write_bytes((run_dir / name).read_bytes())
    (broken / rd.MODEL_FILE).write_bytes(
        (run_dir / rd.MODEL_FILE).read_bytes()[:50]
    )
    cli("generate", str(broken), "--prompt", "Tom").assert_error(
        "model.safetensors", "not a valid safetensors file"
    )
    (broken / rd.TOKENIZER_FILE).write_text("{ not json")
    (broken / rd.MODEL_FILE).write_bytes((run_dir / rd.MODEL_FILE).read_bytes())
    cli("generate", str(broken), "--prompt", "Tom").assert_error("tokenizer.json")
