"""A run directory belongs to one run and one writer; files tinytorch did not write are never
touched."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tinytorch.run_directory import LOCK_FILE, CheckpointError, RunDirectory


def _snapshot(directory: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.name != LOCK_FILE
    }


def test_training_into_a_run_refuses_and_names_both_ways_on(tmp_path, cli, train_test_run):
    run = tmp_path / "run"
    train_test_run(run)
    before = _snapshot(run)
    result = cli("train", "--preset", "test", "--out", str(run))
    result.assert_error("already holds a training run", "--resume", "--overwrite", "config.json")
    assert _snapshot(run) == before


def test_overwrite_replaces_the_run_but_keeps_the_users_own_files(tmp_path, cli, train_test_run):
    run = tmp_path / "run"
    train_test_run(run, "--seed", "1")
    (run / "notes.txt").write_text("my notes")
    train_test_run(run, "--overwrite", "--steps", "3", "--eval-interval", "3")
    assert (run / "notes.txt").read_text() == "my notes"
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["seed"] == 0 and config["train"]["steps"] == 3


@pytest.mark.parametrize("overwrite", [False, True])
def test_someone_elses_model_folder_is_never_modified(tmp_path, cli, overwrite):
    folder = tmp_path / "gpt2"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "gpt2", "n_embd": 768}')
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "tokenizer.json").write_text("{}")
    before = sorted(p.name for p in folder.iterdir()), _snapshot(folder)
    result = cli("train", "--preset", "test", "--out", str(folder), *(["--overwrite"] * overwrite))
    result.assert_error("holds files tinytorch did not write", "never modifies them")
    assert (sorted(p.name for p in folder.iterdir()), _snapshot(folder)) == before


def test_a_second_writer_is_refused_while_the_first_holds_the_run(tmp_path):
    with RunDirectory.create(tmp_path / "run"):
        with pytest.raises(CheckpointError, match=r"in use by process \d+"):
            RunDirectory.create(tmp_path / "run", overwrite=True)
    RunDirectory.create(tmp_path / "run").close()  # released: the next writer gets it


def test_empty_out_is_refused(cli):
    cli("train", "--preset", "test", "--out", "").assert_error("must not be empty")


@pytest.mark.parametrize("encoding", ["sinusoidal", "rope", "alibi", "none"])
def test_pos_encoding_flag_trains_and_resumes(tmp_path, cli, train_test_run, encoding):
    run = tmp_path / encoding
    train_test_run(run, "--pos-encoding", encoding, "--steps", "3", "--eval-interval", "3")
    assert json.loads((run / "config.json").read_text())["model"]["pos_encoding"] == encoding
    resumed = cli("train", "--out", str(run), "--resume", "--steps", "6")
    assert resumed.code == 0, resumed.err
    clash = cli("train", "--out", str(run), "--resume", "--steps", "9", "--pos-encoding", "learned")
    clash.assert_error(f"trained with --pos-encoding {encoding}, not learned")
