"""`tinytorch export`, `tinytorch generate` on a Hugging Face directory, and `tinytorch train
--init-from`, checked against transformers (fixtures: tests/hf_gpt2_fixtures.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, GPT2LMHeadModel

from tests.hf_gpt2_fixtures import transformers_warnings
from tinytorch import run_directory as rd
from tinytorch.models.transformer import GPT
from tinytorch.run_directory import RunDirectory, load_run
from tinytorch.text.tokenization import BPETokenizer

TOLERANCE = 1e-4


def assert_same_logits(directory: Path, model: GPT, ids: np.ndarray) -> None:
    """transformers loads `directory` without a warning and computes `model`'s logits."""
    with transformers_warnings() as caught:
        theirs, info = GPT2LMHeadModel.from_pretrained(directory, output_loading_info=True)
    assert caught == [] and all(not v for v in info.values()), (caught, info)
    with torch.no_grad():
        expected = theirs.eval()(torch.from_numpy(ids)).logits.numpy()
    assert np.abs(model.eval()(ids).data - expected).max() <= TOLERANCE


@pytest.fixture(scope="module")
def text_file(tmp_path_factory, gpt2_files) -> Path:
    path = tmp_path_factory.mktemp("text") / "docs.txt"
    path.write_text(gpt2_files.text[:30_000], encoding="utf-8")
    return path


@pytest.mark.parametrize("tokenizer", ["char", "bpe"])
def test_export_loads_in_transformers_with_the_same_logits_and_ids(
    tmp_path, cli, train_test_run, tokenizer
) -> None:
    run = tmp_path / "run"
    train_test_run(run, "--tokenizer", tokenizer, "--steps", "3")
    result = cli("export", str(run), str(tmp_path / "hf"))
    assert result.code == 0, result.err
    assert "GPT2LMHeadModel.from_pretrained" in result.out
    model, ours, _ = load_run(run)
    text = "Once upon a time, Tom met a fox named Ben. "
    ids = ours.encode_array(text * 2)[:16][None]  # the test preset's context: 16 tokens
    assert_same_logits(tmp_path / "hf", model, ids)
    theirs = AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert theirs(text)["input_ids"] == ours.encode(text)
    # ... and back in: greedy text from the exported directory is the run's, token for token
    args = ("--prompt", "Once upon", "--temperature", "0", "--max-new-tokens", "12")
    from_run = cli("generate", str(run), *args)
    from_export = cli("generate", str(tmp_path / "hf"), *args)
    assert from_export.code == 0, from_export.err
    assert from_export.out == from_run.out and len(from_run.out) > len("Once upon")


def test_export_never_writes_into_a_directory_with_files(tmp_path, cli, train_test_run) -> None:
    run = tmp_path / "run"
    train_test_run(run, "--steps", "3")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    cli("export", str(run), str(tmp_path / "used")).assert_error(
        "used: holds files (notes.txt); an export never overwrites files"
    )
    assert sorted(p.name for p in (tmp_path / "used").iterdir()) == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    cli("export", str(run), str(tmp_path / "file")).assert_error("exists and is not a directory")
    (tmp_path / "empty").mkdir()
    assert cli("export", str(run), str(tmp_path / "empty")).code == 0  # an empty one is fine
    assert (tmp_path / "empty" / "model.safetensors").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no leftovers


def test_export_waits_for_no_trainer(tmp_path, cli, train_test_run) -> None:
    """A run held by a trainer (its lock) is not read half-written."""
    run = tmp_path / "run"
    train_test_run(run, "--steps", "3")
    with RunDirectory.resume(run):
        cli("export", str(run), str(tmp_path / "hf")).assert_error("in use by process")
    assert not (tmp_path / "hf").exists()


def test_export_refuses_positions_gpt2_cannot_hold(tmp_path, cli, train_test_run) -> None:
    run = tmp_path / "run"
    train_test_run(run, "--pos-encoding", "alibi", "--steps", "3")
    cli("export", str(run), str(tmp_path / "hf")).assert_error(
        "a model with 'alibi' positions cannot be written as GPT-2"
    )
    assert not (tmp_path / "hf").exists()


# ------------------------------------------------------------------------------ generate
def test_generate_from_a_huggingface_directory_is_transformers_greedy_decoding(
    gpt2_files, cli
) -> None:
    prompt = "The for statement is used to iterate"
    result = cli("generate", str(gpt2_files.directory), "--prompt", prompt, "--temperature",
                 "0", "--max-new-tokens", "30")
    assert result.code == 0, result.err
    tokenizer = gpt2_files.transformers_tokenizer()
    ids = torch.tensor([tokenizer(prompt)["input_ids"]])
    expected = gpt2_files.transformers_model().generate(ids, do_sample=False, max_new_tokens=30)
    assert expected.shape[1] == ids.shape[1] + 30
    assert result.out == tokenizer.decode(expected[0]) + "\n"


def test_generate_needs_the_directorys_tokenizer(gpt2_files, cli) -> None:
    cli("generate", str(gpt2_files.sharded), "--prompt", "x").assert_error(
        str(gpt2_files.sharded), "tokenizer"
    )


# ----------------------------------------------------------------------------- init-from
def test_init_from_huggingface_fine_tunes_resumes_and_exports(
    gpt2_files, text_file, tmp_path, cli, train_test_run
) -> None:
    run = tmp_path / "run"
    train_test_run(run, "--init-from", str(gpt2_files.directory), "--text", str(text_file),
                   "--max-seq-len", "64", "--steps", "4", "--lr", "1e-3")
    saved = RunDirectory(run).read_config()
    assert saved.train.init_from == str(gpt2_files.directory)
    assert saved.tokenizer == "bpe" and saved.model.embed_dim == 32
    assert saved.model.max_seq_len == 64  # the context shortened: wpe keeps its first 64 rows
    # The run keeps the pretrained tokenizer, as tinytorch's own file: the same ids.
    ours = BPETokenizer.load(run / rd.TOKENIZER_FILE)
    sample = text_file.read_text()[:4000]
    assert ours.encode(sample) == gpt2_files.transformers_tokenizer()(sample)["input_ids"]
    result = cli("train", "--out", str(run), "--resume", "--steps", "6")
    assert result.code == 0, result.err
    assert "resuming" in result.out
    assert cli("export", str(run), str(tmp_path / "hf")).code == 0
    model, tokenizer, _ = load_run(run)
    assert_same_logits(tmp_path / "hf", model, tokenizer.encode_array(sample)[:128].reshape(2, 64))


def test_init_from_starts_from_the_pretrained_weights(
    gpt2_files, text_file, tmp_path, train_test_run
) -> None:
    run = tmp_path / "run"
    train_test_run(run, "--init-from", str(gpt2_files.directory), "--text", str(text_file),
                   "--steps", "1", "--lr", "1e-12", "--dropout", "0", "--max-seq-len", "48")
    pretrained = GPT.from_pretrained(gpt2_files.directory).state_dict()
    table = "embedding.position_encoding.weight"
    pretrained[table] = pretrained[table][:48]  # a shorter context keeps the first rows
    trained, _, config = load_run(run)
    assert config.model.dropout == 0.0 and config.model.max_seq_len == 48
    for name, value in trained.state_dict().items():
        np.testing.assert_allclose(value, pretrained[name], atol=1e-6, err_msg=name)


def test_init_from_a_run_keeps_its_tokenizer(tmp_path, train_test_run) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    train_test_run(first, "--steps", "3")
    train_test_run(second, "--init-from", str(first), "--steps", "2")
    assert (second / rd.TOKENIZER_FILE).read_bytes() == (first / rd.TOKENIZER_FILE).read_bytes()
    assert RunDirectory(second).read_config().model == RunDirectory(first).read_config().model


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (("--embed-dim", "64"), "its model has --embed-dim 32, not 64"),
        (("--max-seq-len", "1024"), "--max-seq-len 1024 exceeds the 512 positions"),
        (("--tokenizer", "char"), "its tokenizer is 'bpe', not 'char'"),
    ],
)
def test_init_from_refuses_contradicting_options(
    gpt2_files, text_file, tmp_path, cli, extra, fragment
) -> None:
    out = tmp_path / "run"
    cli("train", "--preset", "test", "--out", str(out), "--init-from", str(gpt2_files.directory),
        "--text", str(text_file), *extra).assert_error(fragment)
    assert not out.exists()
