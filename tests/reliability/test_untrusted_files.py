"""Files from elsewhere are data: loading never runs their code, nor trusts the sizes they declare.

A pickle payload here creates a marker file when unpickled (the `pickle_bomb` fixture proves that
first), so "the payload did not run" is checked directly. Memory is measured with tracemalloc,
which sees every buffer NumPy and Python allocate.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from pathlib import Path

import pytest

import tinytorch
from tinytorch import run_directory as rd
from tinytorch.models.gpt_config import GPTConfig
from tinytorch.models.transformer import GPT
from tinytorch.run_directory import CheckpointError
from tinytorch.text import bpe
from tinytorch.text.tokenization import BPETokenizer, CharTokenizer, Tokenizer
from tinytorch.train import Trainer

MiB = 2**20


def _load_run(run: Path) -> None:
    """Everything `tinytorch generate` and `--resume` read from a run directory."""
    model, _, config = rd.load_run(run)
    Trainer(config.train, rd.RunDirectory(run), None, model, print).restore()  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["npy", "npz", "pickle"])
@pytest.mark.parametrize(
    "name",
    [
        rd.MODEL_FILE,
        rd.OPTIMIZER_FILE,
        rd.CONFIG_FILE,
        rd.TOKENIZER_FILE,
        rd.TRAINER_STATE_FILE,
    ],
)
def test_a_pickle_in_place_of_a_run_file_is_refused_and_never_runs(
    run_copy: Callable[[], Path], pickle_bomb: Callable[..., Path], name: str, kind: str
) -> None:
    run = run_copy()
    marker = pickle_bomb(run / name, kind)
    with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
        _load_run(run)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["npy", "npz", "pickle"])
@pytest.mark.parametrize("cls", [Tokenizer, CharTokenizer, BPETokenizer])
def test_a_pickle_in_place_of_a_tokenizer_is_refused_and_never_runs(
    tmp_path: Path, pickle_bomb: Callable[..., Path], cls: type[Tokenizer], kind: str
) -> None:
    path = tmp_path / "tokenizer.json"
    marker = pickle_bomb(path, kind)
    with pytest.raises(ValueError, match="not UTF-8 text|corrupt or truncated JSON"):
        cls.load(path)
    assert not marker.exists()


def _jsonpickle_payload(marker: Path) -> dict:
    """What jsonpickle would turn into a call of Path.touch(marker) when decoding."""
    return {"py/reduce": [{"py/function": "pathlib.Path.touch"}, {"py/tuple": [str(marker)]}]}


def test_crafted_json_is_data_never_code_or_a_path(
    run_copy: Callable[[], Path], tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    payload = _jsonpickle_payload(marker)
    run = run_copy()
    config = json.loads((run / rd.CONFIG_FILE).read_text())
    config["model"]["py/reduce"] = payload["py/reduce"]
    (run / rd.CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"model\.py/reduce: unknown setting"):
        rd.load_run(run)

    tokenizer = tmp_path / "tokenizer.json"
    CharTokenizer("ab").save(tokenizer)
    data = json.loads(tokenizer.read_text())
    data["vocab"] = payload
    tokenizer.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="inconsistent tokenizer file"):
        Tokenizer.load(tokenizer)

    # Array references in the trainer state name tensors of optimizer.safetensors, not files.
    run = run_copy()
    state = json.loads((run / rd.TRAINER_STATE_FILE).read_text())
    state["optimizer"]["state"]["__items__"][0][1]["exp_avg"] = {"__array__": "../../config.json"}
    (run / rd.TRAINER_STATE_FILE).write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=r"tensor '\.\./\.\./config\.json' is missing"):
        _load_run(run)
    assert not marker.exists()


UNPICKLERS = {"pickle", "dill", "shelve", "marshal", "joblib", "cloudpickle"}


def test_tinytorch_has_no_way_to_unpickle() -> None:
    """No module imports pickle (or kin), and no call passes allow_pickle."""
    sources = sorted(Path(tinytorch.__file__).parent.rglob("*.py"))
    assert len(sources) > 20
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [alias.name for alias in node.names]
                names.append(getattr(node, "module", None) or "")
                assert not {name.split(".")[0] for name in names} & UNPICKLERS, path
            if isinstance(node, ast.keyword):
                assert node.arg != "allow_pickle", path


# ------------------------------------------------------------ declared sizes are bounded
def test_safetensors_header_declaring_a_huge_tensor_is_refused_without_allocating(
    run_copy: Callable[[], Path], huge_tensor_safetensors: bytes, peak_allocation
) -> None:
    run = run_copy()
    (run / rd.MODEL_FILE).write_bytes(huge_tensor_safetensors)
    with peak_allocation() as peak, pytest.raises(CheckpointError, match="not a valid"):
        rd.load_run(run)
    assert peak[0] < 1 * MiB


def test_config_declaring_a_huge_model_is_refused_before_building_it(
    run_copy: Callable[[], Path], peak_allocation
) -> None:
    run = run_copy()
    config = json.loads((run / rd.CONFIG_FILE).read_text())
    config["model"]["vocab_size"] = 10**7  # 1.3 GB of embeddings; the weight file has 70 kB
    (run / rd.CONFIG_FILE).write_text(json.dumps(config))
    with peak_allocation() as peak, pytest.raises(CheckpointError, match="declares a model"):
        rd.load_run(run)
    assert peak[0] < 1 * MiB


def test_declared_parameter_count_is_exact() -> None:
    """The size check counts what GPT really allocates, for every kind of configuration."""
    extras = (
        {},
        {"tie_weights": False},
        {"pos_encoding": "rope"},
        {"pos_encoding": "none"},
        {"pos_encoding": "sinusoidal"},
        {"mlp_hidden_dim": 7},
    )
    for extra in extras:
        config = GPTConfig(vocab_size=11, embed_dim=8, num_layers=3, num_heads=2, max_seq_len=5,
                           **extra)
        assert config.parameter_count() == GPT(config).num_parameters(), extra


def test_bpe_merges_that_double_a_token_are_refused_within_the_bound(
    tmp_path: Path, peak_allocation
) -> None:
    merges = [[97, 97]] + [[256 + i, 256 + i] for i in range(27)]  # tokens of 2**29 bytes in all
    path = tmp_path / "tokenizer.json"
    payload = {
        "format": "tinytorch.tokenizer",
        "version": 1,
        "type": "bpe",
        "pattern": "gpt4",
        "merges": merges,
        "special_tokens": {"<pad>": 256 + len(merges)},
    }
    path.write_text(json.dumps(payload))
    assert path.stat().st_size < 1000
    with peak_allocation() as peak, pytest.raises(ValueError, match="bytes of tokens"):
        Tokenizer.load(path)
    assert peak[0] < 2 * bpe.MAX_MERGED_BYTES


def test_char_alphabet_up_to_the_last_code_point_stays_small(
    tmp_path: Path, peak_allocation
) -> None:
    """The character lookup table is sized by the largest code point: at most 1.1M entries."""
    path = tmp_path / "tokenizer.json"
    CharTokenizer("a\U0010ffff").save(path)
    with peak_allocation() as peak:
        tokenizer = Tokenizer.load(path)
    assert tokenizer.encode("\U0010ffff") == [5]
    assert peak[0] < 16 * MiB
