"""Run directories on disk: atomic writes, exact round trips, and refusal of bad files."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

from tinytorch import run_directory as rd
from tinytorch.core.random import default_generator, manual_seed
from tinytorch.files import atomic_write_bytes
from tinytorch.models.transformer import GPT
from tinytorch.run_directory import CheckpointError, RunConfig, RunDirectory, load_run
from tinytorch.state_tree import decode_tree, encode_tree
from tinytorch.text.tokenization import CharTokenizer
from tinytorch.train import Trainer
from tinytorch.train_config import TrainConfig

SMALL = dict(vocab_size=10, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=6)
TRAIN = TrainConfig(steps=2, warmup_steps=0)


def _make_model() -> GPT:
    manual_seed(0)
    return GPT(**SMALL)


def _trainer(run_dir: Path, model: GPT, steps: int = 0) -> Trainer:
    """A Trainer of `model` over `run_dir` after `steps` real AdamW steps (on fixed ids; these
    tests never need training data)."""
    trainer = Trainer(TRAIN, RunDirectory(run_dir), None, model, print)  # type: ignore[arg-type]
    ids = np.array([[1, 2, 3, 4, 5, 6]])
    for _ in range(steps):
        _, loss = model(ids[:, :-1], ids[:, 1:])
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()
        trainer.schedule.step()
        trainer.step += 1
    return trainer


def _commit(trainer: Trainer) -> None:
    trainer.run_dir.commit_checkpoint(
        trainer.model, trainer.optimizer.state_dict(), trainer.trainer_state(), []
    )


def _restored(run_dir: Path, model: GPT | None = None) -> Trainer:
    trainer = _trainer(run_dir, model or GPT(**SMALL))
    trainer.restore()
    return trainer


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A complete checkpoint of step 2, written through the public functions."""
    model = _make_model()
    config = RunConfig(model=model.config, train=TRAIN)
    run = RunDirectory(tmp_path)
    run.write_config(config)
    run.write_tokenizer(CharTokenizer("abcdef"))
    _commit(_trainer(tmp_path, model, steps=2))
    return tmp_path


# --------------------------------------------------------------------------- atomic writes
def _leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_atomic_write_failure_keeps_old_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    target = tmp_path / "model.safetensors"
    atomic_write_bytes(target, b"old checkpoint")

    def crash(*args: object) -> None:
        raise OSError("simulated crash half-way through the write")

    monkeypatch.setattr(os, failing, crash)
    with pytest.raises(OSError, match="simulated crash"):
        atomic_write_bytes(target, b"new checkpoint that never lands")
    monkeypatch.undo()
    assert target.read_bytes() == b"old checkpoint"
    assert _leftovers(tmp_path) == []


def test_checkpoint_write_that_fails_midway_keeps_previous_checkpoint_loadable(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {name: (run_dir / name).read_bytes() for name in os.listdir(run_dir)}
    model = _make_model()
    for p in model.parameters():
        p.data += 1.0
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        staged_optimizer = rd.OPTIMIZER_FILE + rd.STAGED_SUFFIX
        if os.path.basename(dst) == staged_optimizer:  # the new model file is already staged
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="disk full"):
        _commit(_trainer(run_dir, model, steps=1))
    monkeypatch.undo()
    assert _leftovers(run_dir) == []
    for name in (rd.TRAINER_STATE_FILE, rd.MODEL_FILE, rd.OPTIMIZER_FILE):
        assert (run_dir / name).read_bytes() == before[name]  # the previous checkpoint is intact
    # ... and still resumes; the staged new model file of the failed save is discarded.
    assert _restored(run_dir).step == 2
    assert not (run_dir / (rd.MODEL_FILE + rd.STAGED_SUFFIX)).exists()


# ------------------------------------------------------------------------------ round trips
def test_training_state_round_trip_is_exact(run_dir: Path) -> None:
    saved = _trainer(run_dir, _make_model(), steps=2)
    saved.loss_sum, saved.loss_count = 2.5, 1
    saved.best_val_loss, saved.last_val_loss, saved.last_val_bits = 1.25, 1.5, 2.0
    expected = saved.optimizer.state_dict()
    _commit(saved)

    fresh = _restored(run_dir)
    assert fresh.trainer_state() == saved.trainer_state()
    for name, value in saved.model.state_dict().items():
        np.testing.assert_array_equal(fresh.model.state_dict()[name], value)
    loaded_opt = fresh.optimizer.state_dict()
    assert loaded_opt["param_groups"] == expected["param_groups"]  # tuples stay tuples
    assert isinstance(loaded_opt["param_groups"][0]["betas"], tuple)
    assert set(loaded_opt["state"]) == set(expected["state"])  # int keys stay ints
    for index, entries in expected["state"].items():
        for key, value in entries.items():
            got = loaded_opt["state"][index][key]
            assert type(got) is type(value)
            if isinstance(value, np.ndarray):
                assert got.dtype == value.dtype
                np.testing.assert_array_equal(got, value)
            else:
                assert got == value


def test_numpy_scalars_keep_their_dtype() -> None:
    state = {"scale": np.float32(0.1), "count": np.int64(3), "plain": 0.1}
    arrays: dict[str, np.ndarray] = {}
    encoded = encode_tree(state, "optimizer", arrays)
    stored = safetensors.numpy.save(arrays)  # the arrays go through a safetensors file
    loaded = decode_tree(json.loads(json.dumps(encoded)), safetensors.numpy.load(stored), "f")
    assert loaded["scale"] == np.float32(0.1) and type(loaded["scale"]) is np.float32
    assert type(loaded["count"]) is np.int64
    assert type(loaded["plain"]) is float


def test_model_file_holds_tied_weights_under_both_names(run_dir: Path) -> None:
    tensors = safetensors.numpy.load_file(run_dir / rd.MODEL_FILE)
    assert set(tensors) == set(GPT(**SMALL).state_dict())
    np.testing.assert_array_equal(
        tensors["lm_head.weight"], tensors["embedding.token_embedding.weight"]
    )
    model, tokenizer, config = load_run(run_dir)
    assert model.lm_head.weight is model.embedding.token_embedding.weight  # still tied
    assert config.tokenizer == "char" and tokenizer.vocab_size == SMALL["vocab_size"]


# --------------------------------------------------------------------------- refusals
def _rewrite_weights(run_dir: Path, tensors: dict[str, np.ndarray]) -> None:
    (run_dir / rd.MODEL_FILE).write_bytes(safetensors.numpy.save(tensors))


def test_missing_tensor_is_named(run_dir: Path) -> None:
    tensors = safetensors.numpy.load_file(run_dir / rd.MODEL_FILE)
    del tensors["ln_f.bias"]
    _rewrite_weights(run_dir, tensors)
    with pytest.raises(
        CheckpointError, match=r"model\.safetensors: tensor 'ln_f\.bias' is missing"
    ):
        load_run(run_dir)


def test_unexpected_tensor_is_named(run_dir: Path) -> None:
    tensors = safetensors.numpy.load_file(run_dir / rd.MODEL_FILE)
    tensors["extra.weight"] = np.zeros(3, np.float32)
    _rewrite_weights(run_dir, tensors)
    with pytest.raises(CheckpointError, match="unexpected tensor 'extra.weight'"):
        load_run(run_dir)


def test_shape_that_disagrees_with_config_is_named(run_dir: Path) -> None:
    config = json.loads((run_dir / rd.CONFIG_FILE).read_text())
    config["model"]["embed_dim"] = 12
    (run_dir / rd.CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: tensor '.*' has shape"):
        load_run(run_dir)


def test_wrong_dtype_is_refused(run_dir: Path) -> None:
    tensors = safetensors.numpy.load_file(run_dir / rd.MODEL_FILE)
    tensors["ln_f.weight"] = tensors["ln_f.weight"].astype(np.float64)
    _rewrite_weights(run_dir, tensors)
    with pytest.raises(CheckpointError, match="'ln_f.weight' has dtype float64"):
        load_run(run_dir)


def test_truncated_weights_are_refused(run_dir: Path) -> None:
    path = run_dir / rd.MODEL_FILE
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="model.safetensors: not a valid safetensors file"):
        load_run(run_dir)


class _Payload:
    """Unpickling this would create a file: proof that loading executed code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def test_pickle_bearing_file_is_refused_without_running_it(run_dir: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (run_dir / rd.MODEL_FILE).write_bytes(pickle.dumps({"weights": _Payload(marker)}))
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_run(run_dir)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"format": "tinytorch.checkpoint", "version": 99}', "unsupported version 99"),
        ('{"format": "something-else", "version": 1}', "not a tinytorch.checkpoint file"),
        ('{"format": "tinytorch.checkpoint", "vers', "corrupt or truncated JSON"),
        (
            '{"format": "tinytorch.checkpoint", "version": 1, "model": {"vocab_size": 10}, '
            '"train": {"tokenizer": "word"}, "tokenizer": "word"}',
            r"config\.json: train\.tokenizer: must be one of \['char', 'bpe'\], got 'word'",
        ),
    ],
)
def test_bad_config_is_refused(run_dir: Path, content: str, message: str) -> None:
    (run_dir / rd.CONFIG_FILE).write_text(content)
    with pytest.raises(CheckpointError, match=message):
        load_run(run_dir)


def test_config_with_bad_model_arguments_is_refused(run_dir: Path) -> None:
    config = json.loads((run_dir / rd.CONFIG_FILE).read_text())
    config["model"]["num_wings"] = 2
    (run_dir / rd.CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"config\.json: model\.num_wings: unknown setting"):
        load_run(run_dir)


def test_tokenizer_of_the_wrong_size_is_refused(run_dir: Path) -> None:
    CharTokenizer("abc").save(run_dir / rd.TOKENIZER_FILE)
    with pytest.raises(CheckpointError, match="vocabulary of 7 tokens, but the model has"):
        load_run(run_dir)


def test_missing_directory_and_missing_files_are_reported(run_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such run directory"):
        load_run(tmp_path / "nowhere")
    (run_dir / rd.OPTIMIZER_FILE).unlink()
    with pytest.raises(CheckpointError, match=r"optimizer\.safetensors: missing"):
        _restored(run_dir)


def test_loading_a_run_draws_no_random_numbers(tmp_path: Path, train_test_run) -> None:
    """The model is built without drawing the weights the file then replaces: loading a run
    neither costs those draws nor moves the seeded stream that follows."""
    train_test_run(tmp_path / "run", "--steps", "2")
    manual_seed(7)
    expected = default_generator().random(5)
    manual_seed(7)
    model, _, _ = load_run(tmp_path / "run")
    assert np.array_equal(default_generator().random(5), expected)
    assert any(np.abs(p.data).sum() > 0 for p in model.parameters())  # the file's weights
