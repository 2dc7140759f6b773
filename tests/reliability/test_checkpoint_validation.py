"""Everything a resume or `generate` reads back is checked before it is used.

Each test damages one file of a real run the way a user, a tool or a disk might, and checks the
one-line error names the file and the key. Where the damage is in a weight file, the checkpoint's
integrity record is updated to vouch for the damaged file (`_vouch_for`), so the content checks
are what must catch it, not the hash.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

from tinytorch import run_directory as rd
from tinytorch.core.optimizers import AdamW
from tinytorch.safetensors_file import read_safetensors
from tinytorch.text.tokenization import CharTokenizer

FIXTURE = Path(__file__).parents[1] / "cli" / "fixtures" / "run_saved_before_settings"


def _edit_json(path: Path, edit: Callable[[Any], None]) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _vouch_for(run: Path, name: str) -> None:
    """Record `name`'s current sha256 in trainer_state.json, as if the checkpoint wrote it."""
    digest = hashlib.sha256((run / name).read_bytes()).hexdigest()
    _edit_json(run / rd.TRAINER_STATE_FILE, lambda s: s["sha256"].__setitem__(name, digest))


def _rewrite_tensors(run: Path, name: str, edit: Callable[[dict[str, np.ndarray]], None]) -> None:
    tensors = dict(safetensors.numpy.load_file(run / name))
    edit(tensors)
    (run / name).write_bytes(safetensors.numpy.save(tensors))
    _vouch_for(run, name)


def _resume(cli, run: Path) -> Any:
    return cli("train", "--out", str(run), "--resume", "--steps", "6")


# ------------------------------------------------------------------- trainer_state.json
def _optimizer_state(state: dict) -> list:
    return state["optimizer"]["state"]["__items__"]


TRAINER_STATE_DAMAGE = [
    (
        lambda s: s["optimizer"].__setitem__("state", {}),
        "trainer_state.json: optimizer.state: parameter 0 has no state, but the run is at step 3 "
        "(an emptied optimizer state is damage, not a fresh start)",
    ),
    (
        lambda s: _optimizer_state(s).pop(),
        "trainer_state.json: optimizer.state: parameter 19 has no state, but the run is at step 3",
    ),
    (
        lambda s: _optimizer_state(s)[2][1].__setitem__("step", 2),
        "trainer_state.json: optimizer.state.2.step: must be the run's step 3, got 2",
    ),
    (
        lambda s: s["optimizer"]["param_groups"][1].__setitem__("maximize", True),
        "trainer_state.json: optimizer.param_groups.1.maximize: must be False (as config.json "
        "implies), got True",
    ),
    (
        lambda s: s["optimizer"]["param_groups"][0].__setitem__("weight_decay", 0.5),
        "trainer_state.json: optimizer.param_groups.0.weight_decay: must be 0.1",
    ),
    (
        lambda s: s["schedule"].__setitem__("last_step", 2),
        "trainer_state.json: schedule.last_step: must be the step 3, got 2",
    ),
    (
        lambda s: s["schedule"].__setitem__("base_lrs", [1.0, 1.0]),
        "trainer_state.json: schedule.base_lrs: must be [0.01, 0.01]",
    ),
    (
        lambda s: s["data_rng"]["state"].__setitem__("inc", 4),
        "trainer_state.json: data_rng.state.inc: must be an odd integer in [0, 2**128), got 4",
    ),
    (
        lambda s: s["tinytorch_rng"].__setitem__("bit_generator", "MT19937"),
        "trainer_state.json: tinytorch_rng.bit_generator: must be 'PCG64', got 'MT19937'",
    ),
    (
        lambda s: s["tinytorch_rng"].__setitem__("uinteger", 2**32),
        "trainer_state.json: tinytorch_rng.uinteger: must be an integer in [0, 2**32)",
    ),
    (
        lambda s: s.__setitem__("best_val_loss", float("nan")),
        "trainer_state.json: best_val_loss: must be a finite number >= 0 or null, got nan",
    ),
    (lambda s: s.__setitem__("wings", 2), "trainer_state.json: wings: unknown key"),
    (
        lambda s: s["sha256"].pop("optimizer.safetensors"),
        "sha256.optimizer.safetensors: is missing",
    ),
    (
        lambda s: s["sha256"].__setitem__("model.safetensors", "ABC"),
        "trainer_state.json: sha256.model.safetensors: must be 64 lowercase hex digits, got 'ABC'",
    ),
]


@pytest.mark.parametrize(
    ("damage", "message"),
    TRAINER_STATE_DAMAGE,
    ids=[message.split(": ")[1] for _, message in TRAINER_STATE_DAMAGE],
)
def test_damaged_trainer_state_is_refused_naming_the_key(
    run_copy: Callable[[], Path], cli, damage: Callable[[dict], None], message: str
) -> None:
    run = run_copy()
    _edit_json(run / rd.TRAINER_STATE_FILE, damage)
    _resume(cli, run).assert_error(message)


# ------------------------------------------------------------------ optimizer.safetensors
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.__setitem__("optimizer.state.0.exp_avg", t["optimizer.state.0.exp_avg"].T),
            "tensor 'optimizer.state.0.exp_avg' has shape (32, 61), trainer_state.json implies "
            "(61, 32)",
        ),
        (
            lambda t: t.__setitem__(
                "optimizer.state.3.exp_avg_sq", t["optimizer.state.3.exp_avg_sq"].astype(np.float64)
            ),
            "tensor 'optimizer.state.3.exp_avg_sq' has dtype float64, expected float32",
        ),
        (
            lambda t: t.pop("optimizer.state.5.exp_avg"),
            "tensor 'optimizer.state.5.exp_avg' is missing (trainer_state.json expects it)",
        ),
        (
            lambda t: t.__setitem__("stowaway", np.zeros(3, np.float32)),
            "unexpected tensor 'stowaway' (trainer_state.json does not refer to it)",
        ),
        (
            lambda t: t["optimizer.state.1.exp_avg"].__setitem__((0, 0), np.inf),
            "tensor 'optimizer.state.1.exp_avg': holds inf at index (0, 0)",
        ),
    ],
)
def test_optimizer_arrays_are_checked_against_the_parameters_before_loading(
    run_copy: Callable[[], Path],
    cli,
    monkeypatch: pytest.MonkeyPatch,
    edit: Callable[[dict], None],
    message: str,
) -> None:
    run = run_copy()
    _rewrite_tensors(run, rd.OPTIMIZER_FILE, edit)

    def never(*args: object) -> None:
        raise AssertionError("a damaged optimizer state reached load_state_dict")

    monkeypatch.setattr(AdamW, "load_state_dict", never)
    _resume(cli, run).assert_error(f"{run / rd.OPTIMIZER_FILE}: {message}")


# ---------------------------------------------------------------------------- tokenizer
def test_a_swapped_tokenizer_cannot_silently_retokenize_a_resumed_run(
    run_copy: Callable[[], Path], cli
) -> None:
    run = run_copy()
    saved = json.loads((run / rd.TOKENIZER_FILE).read_text())
    alphabet = sorted(saved["vocab"], key=saved["vocab"].get)[4:]
    swapped = [chr(ord(alphabet[-1]) + 1) if c == alphabet[-2] else c for c in alphabet]
    CharTokenizer("".join(sorted(swapped))).save(run / rd.TOKENIZER_FILE)  # same size, other text
    _resume(cli, run).assert_error(
        f"{run / rd.TOKENIZER_FILE}: does not belong to trainer_state.json"
    )


def test_a_run_saved_before_the_tokenizer_hash_resumes_and_then_records_it(
    tmp_path: Path, cli
) -> None:
    run = Path(shutil.copytree(FIXTURE, tmp_path / "run"))
    assert "tokenizer.json" not in json.loads((run / rd.TRAINER_STATE_FILE).read_text())["sha256"]
    assert cli("train", "--out", str(run), "--resume", "--steps", "7").code == 0
    hashes = json.loads((run / rd.TRAINER_STATE_FILE).read_text())["sha256"]
    assert (
        hashes["tokenizer.json"]
        == hashlib.sha256((run / "tokenizer.json").read_bytes()).hexdigest()
    )


# ----------------------------------------------------------------------- metrics.jsonl
@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"step": 3, "train_loss": 1.0}', "line 2: step: must be an integer > 3"),
        (
            '{"step": 4, "train_loss": NaN}',
            "line 2: train_loss: must be a finite number >= 0, got nan",
        ),
        ('{"step": 4, "train_loss": 1.0, "lr": -1}', "line 2: lr: must be a finite number >= 0"),
        ("[4, 1.0]", "line 2: must be a JSON object, got [4, 1.0]"),
    ],
)
def test_damaged_metrics_lines_are_refused_naming_line_and_key(
    run_copy: Callable[[], Path], cli, line: str, message: str
) -> None:
    run = run_copy()
    path = run / rd.METRICS_FILE
    path.write_text(path.read_text() + line + "\n")
    _resume(cli, run).assert_error(f"{path}: {message}")


# ------------------------------------------------------------------- model.safetensors
@pytest.mark.parametrize("command", ["generate", "resume"])
def test_weights_holding_nan_or_inf_are_refused_naming_the_tensor(
    run_copy: Callable[[], Path], cli, command: str
) -> None:
    run = run_copy()
    _rewrite_tensors(run, rd.MODEL_FILE, lambda t: t["ln_f.weight"].__setitem__(7, np.nan))
    result = (
        cli("generate", str(run), "--prompt", "Once")
        if command == "generate"
        else _resume(cli, run)
    )
    result.assert_error(f"{run / rd.MODEL_FILE}: tensor 'ln_f.weight': holds nan at index (7,)")


def _as_dtype(run: Path, dtype: torch.dtype) -> dict[str, np.ndarray]:
    """Store the run's weights as `dtype` (written by safetensors' torch side, the format's
    reference); return what they are as float32 according to torch."""
    tensors = {
        k: torch.from_numpy(v).to(dtype)
        for k, v in safetensors.numpy.load_file(run / rd.MODEL_FILE).items()
    }
    (run / rd.MODEL_FILE).write_bytes(safetensors.torch.save(tensors))
    _vouch_for(run, rd.MODEL_FILE)
    return {k: v.to(torch.float32).numpy() for k, v in tensors.items()}


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
def test_half_precision_weights_load_exactly_as_float32_for_generate_and_resume(
    run_copy: Callable[[], Path], cli, dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As for a model over 64 MiB: config.json's size is checked against the (half-size) file.
    monkeypatch.setattr(rd, "SMALL_MODEL_BYTES", 0)
    run = run_copy()
    expected = _as_dtype(run, dtype)
    model, _, _ = rd.load_run(run)
    for name, value in model.state_dict().items():
        assert value.dtype == np.float32
        np.testing.assert_array_equal(value, expected[name])
    generated = cli("generate", str(run), "--prompt", "Once", "--max-new-tokens", "5")
    assert generated.code == 0 and generated.out.startswith("Once"), generated.err
    assert _resume(cli, run).code == 0
    saved = safetensors.numpy.load_file(run / rd.MODEL_FILE)  # training continued in float32
    assert {value.dtype for value in saved.values()} == {np.dtype(np.float32)}


def test_an_unknown_dtype_is_named(run_copy: Callable[[], Path], cli) -> None:
    run = run_copy()
    _as_dtype(run, torch.float8_e4m3fn)
    cli("generate", str(run), "--prompt", "Once").assert_error(
        "dtype 'F8_E4M3' is not one tinytorch reads (BOOL, U8, I8, U16, I16, F16, BF16, U32, I32, "
        "F32, U64, I64, F64)"
    )


def test_bfloat16_is_read_exactly_for_every_bit_pattern(tmp_path: Path) -> None:
    """All 65,536 bfloat16 bit patterns widen to float32 exactly as torch widens them."""
    bits = np.arange(2**16, dtype=np.uint16)
    oracle = torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16).to(torch.float32).numpy()
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2**16], "data_offsets": [0, 2**17]}})
    path = tmp_path / "w.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode() + bits.tobytes())
    tensors, _ = read_safetensors(path, lambda header: None)
    assert tensors["w"].dtype == np.float32
    np.testing.assert_array_equal(tensors["w"].view(np.uint32), oracle.view(np.uint32))
