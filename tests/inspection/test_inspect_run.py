"""inspect_run on real (tiny) training runs, char and BPE, and its refusals of bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy
from matplotlib.image import imread

from tinytorch.inspection import check_prompt, inspect_run, report
from tinytorch.inspection.report import default_prompt, training_text
from tinytorch.models.transformer import GPT
from tinytorch.run_directory import CheckpointError, load_run
from tinytorch.text.tokenization import CharTokenizer
from tinytorch.train_config import TrainConfig, text_sha256
from tinytorch.training_data import prepare_data

from .conftest import POSITION_SCHEMES

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FIGURES = [
    "embeddings.png",
    "neighbours.png",
    "positions.png",
    "attention.png",
    "tokens.png",
    "memory.png",
    "overview.png",
]


def _summary(run: Path, out: Path, **options) -> tuple[list[Path], list[str]]:
    lines: list[str] = []
    paths = inspect_run(run, out_dir=out, echo=lines.append, **options)
    return paths, lines


def test_char_run_writes_every_figure_and_a_summary(char_run: Path, tmp_path: Path) -> None:
    run = Path(shutil.copytree(char_run, tmp_path / "run"))
    lines: list[str] = []
    paths = inspect_run(run, echo=lines.append)  # default prompt, default output directory
    assert paths == [run / "inspect" / name for name in FIGURES]
    for path in paths:
        assert path.read_bytes().startswith(PNG_SIGNATURE) and path.stat().st_size > 5_000
        height, width, _ = imread(path).shape
        assert height > 200 and width > 400
    assert sorted(p.name for p in (run / "inspect").iterdir()) == sorted(FIGURES)  # no temp files
    text = "\n".join(lines)
    assert "prompt 'Once upon' -> 9 tokens: O | n | c | e | \u2423 | u | p | o | n" in text
    assert "training text: 18," in text and "1.00 characters per token" in text
    assert "nearest neighbours (cosine) of the most frequent tokens of the training text" in text
    model, _, _ = load_run(run)
    vocab, dim = model.config.vocab_size, model.config.embed_dim
    assert (
        f"embedding table: {vocab} x {dim} float32 = {vocab * dim * 4:,} bytes; with gradient "
        f"and AdamW state {4 * vocab * dim * 4:,} bytes" in text
    )
    assert "(the output head is tied to it, counted once)" in text
    assert lines[-1] == f"wrote 7 figures to {run / 'inspect'} (overview: overview.png)"


def test_the_statistics_describe_the_text_the_run_trained_on(char_run: Path) -> None:
    model, tokenizer, config = load_run(char_run)
    assert config.train.text is None  # the built-in corpus, regenerated
    data = prepare_data(config.train, model.config.max_seq_len, tokenizer)
    assert np.array_equal(tokenizer.encode_array(training_text(config.train)), data.train_ids)


def _book_config(book: Path) -> TrainConfig:
    return TrainConfig(preset="test", text=str(book), text_sha256=text_sha256(book.read_text()))


def test_a_users_text_counts_only_while_it_is_the_text_trained_on(tmp_path: Path) -> None:
    book = tmp_path / "book.txt"
    book.write_text("".join(f"Line {i} of a small book.\n" for i in range(100)))
    config = _book_config(book)
    data = prepare_data(config, block_size=16)
    text = training_text(config)
    assert np.array_equal(data.tokenizer.encode_array(text), data.train_ids)
    assert len(text) < len(book.read_text())  # the validation part is not in it
    book.write_text(book.read_text() + "one more line\n")
    assert training_text(config) is None  # changed: not what the run trained on
    book.unlink()
    assert training_text(config) is None


def test_bpe_run_with_a_prompt(bpe_run: Path, tmp_path: Path) -> None:
    paths, lines = _summary(bpe_run, tmp_path, prompt="There was a frog")
    assert [p.name for p in paths] == FIGURES
    _, tokenizer, _ = load_run(bpe_run)
    ids = tokenizer.encode("There was a frog")
    assert len(ids) < len("There was a frog")  # merged pieces, not characters
    assert f"prompt 'There was a frog' -> {len(ids)} tokens: " in lines[1]
    assert "\u2423was" in lines[1] or "\u2423w" in lines[1]
    assert "BPETokenizer, vocabulary 300" in lines[0]


def test_default_prompt_of_a_user_text_is_the_start_of_its_first_line(tmp_path: Path) -> None:
    book = tmp_path / "book.txt"
    book.write_text("\n  \nIt was a bright cold day in April, and the clocks were striking.\n")
    tokenizer = CharTokenizer.from_text("It was a bright cold day in April, and the clocks")
    config = _book_config(book)
    prompt = default_prompt(tokenizer, config, training_text(config), limit=64)
    assert prompt == "It was a bright cold day"  # 24 characters = 24 char tokens
    assert default_prompt(tokenizer, config, training_text(config), limit=5) == "It wa"
    assert default_prompt(tokenizer, TrainConfig(), None, limit=64) == "Once upon"
    with pytest.raises(
        ValueError, match=r"training text .*book.txt is gone, unreadable or changed: pass"
    ):
        default_prompt(tokenizer, config, None, limit=64)


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        ("", "prompt is empty: give at least one character to look at"),
        (
            "x" * 17,
            "prompt of 17 tokens is longer than this model's learned position table: "
            "give at most 16 tokens",
        ),
        (
            "Once \u20ac\u00e9",
            "prompt 'Once \u20ac\u00e9' contains characters this model never saw: '\u00e9\u20ac'",
        ),
    ],
)
def test_bad_prompts_are_refused_before_anything_is_written(
    char_run: Path, tmp_path: Path, prompt: str, message: str
) -> None:
    with pytest.raises(ValueError) as info:
        inspect_run(char_run, prompt=prompt, out_dir=tmp_path / "out", echo=lambda line: None)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_a_prompt_of_exactly_the_table_length_is_accepted(make_gpt, char_tokenizer) -> None:
    model = make_gpt(char_tokenizer.vocab_size, "sinusoidal")
    assert len(check_prompt(model, char_tokenizer, "the cat sat on t").ids) == 16
    with pytest.raises(
        ValueError,
        match="prompt of 17 tokens is longer than this model's "
        "sinusoidal position table: give at most 16 tokens",
    ):
        check_prompt(model, char_tokenizer, "the cat sat on th")


def test_a_rope_model_takes_prompts_longer_than_its_training_block(make_gpt, char_tokenizer):
    model = make_gpt(char_tokenizer.vocab_size, "rope")
    tokens = check_prompt(model, char_tokenizer, "the cat " * 4)
    assert len(tokens.ids) == 32 > model.config.max_seq_len


def test_a_missing_run_is_a_checkpoint_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such run directory"):
        inspect_run(tmp_path / "nowhere", echo=lambda line: None)


def test_a_run_whose_text_file_is_gone_describes_the_prompt(
    char_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the numbers and the summary matter here: the figures are stubbed out (the runs
    above draw them), which keeps this test fast."""
    run = Path(shutil.copytree(char_run, tmp_path / "run"))
    config = json.loads((run / "config.json").read_text())
    config["train"]["text"] = str(tmp_path / "moved.txt")
    (run / "config.json").write_text(json.dumps(config))
    drawn = []
    monkeypatch.setattr(report, "write_figures", lambda i, out, title: drawn.append(i) or [out])
    lines: list[str] = []
    inspect_run(run, prompt="a cat", echo=lines.append)
    assert lines[0] == (
        f"note: the training text {tmp_path / 'moved.txt'} is gone, unreadable or changed; the "
        "statistics describe the prompt"
    )
    assert "prompt: 5 characters, 5 tokens" in lines[3]
    assert drawn[0].stats_source == "prompt" and drawn[0].stats.num_chars == 5
    assert not drawn[0].projection_fitted_on_used


@pytest.mark.parametrize("scheme", POSITION_SCHEMES)
def test_every_position_scheme_loads_from_a_run_directory(
    char_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    """The run's config is switched to each scheme (with matching weights); figures are stubbed
    out here (test_figures draws every scheme). A 34-token prompt exceeds the 16 positions of a
    table, and is fine for the schemes without one."""
    run = Path(shutil.copytree(char_run, tmp_path / "run"))
    config = json.loads((run / "config.json").read_text())
    config["model"]["pos_encoding"] = scheme
    (run / "config.json").write_text(json.dumps(config))
    safetensors.numpy.save_file(GPT(**config["model"]).state_dict(), run / "model.safetensors")
    drawn = []
    monkeypatch.setattr(report, "write_figures", lambda i, out, title: drawn.append(i) or [out])
    prompt = "Once upon a time, there was a frog"
    if scheme in ("learned", "sinusoidal"):
        with pytest.raises(ValueError, match=f"longer than this model's {scheme} position table"):
            inspect_run(run, prompt=prompt, echo=lambda line: None)
        prompt = prompt[:16]
    inspect_run(run, prompt=prompt, echo=lambda line: None)
    assert drawn[0].positions.scheme == scheme
    assert drawn[0].attention.shape == (1, 2, len(prompt), len(prompt))
