"""A training run on disk: weights, config, tokenizer, optimizer and trainer state, metrics, plot.

Layout of a run directory::

    config.json           {"format": "tinytorch.checkpoint", "version": 1, "model": ...,
                           "train": ..., "tokenizer": "char" | "bpe"}
    tokenizer.json        the tokenizer's own versioned JSON
    model.safetensors     the model's state_dict() (tied weights under every name, like PyTorch)
    optimizer.safetensors the optimizer's arrays; its scalars live in trainer_state.json
    trainer_state.json    step, losses, optimizer scalars, schedule, both RNG states, and the
                          sha256 of the two .safetensors files it belongs with
    metrics.jsonl         one JSON object per logged step
    *.safetensors.next    new weight files while a checkpoint is being committed (transient)
    loss.png              train / validation curves

Why it looks like this: safetensors and JSON cannot execute code when loaded (no pickle). Each
file is replaced atomically, so a crash leaves the old or the new version of a file, never half
of one. A checkpoint spans several files, so it is committed in two phases (see
`save_training_state`): a crash or a full disk at any moment leaves one complete checkpoint,
the new one or the previous one, and a resume continues from it.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import safetensors.numpy
from safetensors import SafetensorError

from tinytorch.core.layers import Module
from tinytorch.files import atomic_write_bytes
from tinytorch.models.transformer import GPT
from tinytorch.text.tokenization import BPETokenizer, CharTokenizer, Tokenizer

FORMAT = "tinytorch.checkpoint"
VERSION = 1
TRAINER_STATE_FORMAT = "tinytorch.trainer_state"
TOKENIZER_CLASSES: dict[str, type[Tokenizer]] = {"char": CharTokenizer, "bpe": BPETokenizer}
TOKENIZER_KINDS = tuple(TOKENIZER_CLASSES)

CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
TRAINER_STATE_FILE = "trainer_state.json"
METRICS_FILE = "metrics.jsonl"
PLOT_FILE = "loss.png"
STAGED_SUFFIX = ".next"  # weight files of a checkpoint that is not committed yet
WEIGHT_FILES = (MODEL_FILE, OPTIMIZER_FILE)
CHECKPOINT_FILES = (
    *WEIGHT_FILES,
    *(name + STAGED_SUFFIX for name in WEIGHT_FILES),
    TRAINER_STATE_FILE,
    METRICS_FILE,
    PLOT_FILE,
)
SMALL_MODEL_BYTES = 64 * 2**20  # config sizes below this are not checked before building


class CheckpointError(ValueError):
    """A run directory that is missing, corrupt, or does not match what it is loaded into."""


@dataclass(frozen=True)
class RunConfig:
    """What config.json holds: how to rebuild the model and how it was trained."""

    model: dict[str, Any]
    train: dict[str, Any]
    tokenizer: str


# ------------------------------------------------------------------------------ writing
def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1) + "\n").encode("utf-8")


def save_config(run_dir: str, config: RunConfig) -> None:
    if config.tokenizer not in TOKENIZER_KINDS:
        raise ValueError(f"tokenizer must be one of {TOKENIZER_KINDS}, got {config.tokenizer!r}")
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model": config.model,
        "train": config.train,
        "tokenizer": config.tokenizer,
    }
    atomic_write_bytes(os.path.join(run_dir, CONFIG_FILE), _json_bytes(payload))


def save_tokenizer(run_dir: str, tokenizer: Tokenizer) -> None:
    tokenizer.save(os.path.join(run_dir, TOKENIZER_FILE))  # atomic: tokenizers write that way


def save_training_state(
    run_dir: str,
    model: Module,
    optimizer_state: Mapping[str, Any],
    trainer_state: Mapping[str, Any],
) -> None:
    """Write a checkpoint so that a crash at any moment leaves a complete one behind.

    Phase 1 writes the new weight and optimizer files under staged names (`*.next`), leaving
    the previous checkpoint's files untouched. Replacing trainer_state.json, which records the
    staged files' hashes, commits the checkpoint. Phase 2 renames the staged files into place;
    if a crash interrupts it, `load_training_state` finishes the renames (and discards staged
    files of a checkpoint that was never committed).
    """
    arrays: dict[str, np.ndarray] = {}
    optimizer_tree = _encode_tree(optimizer_state, "optimizer", arrays)
    contents = {
        MODEL_FILE: safetensors.numpy.save(model.state_dict()),
        OPTIMIZER_FILE: safetensors.numpy.save(arrays),
    }
    for name, data in contents.items():
        atomic_write_bytes(os.path.join(run_dir, name + STAGED_SUFFIX), data)
    payload = {
        "format": TRAINER_STATE_FORMAT,
        "version": VERSION,
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()},
        "optimizer": optimizer_tree,
        **trainer_state,
    }
    atomic_write_bytes(os.path.join(run_dir, TRAINER_STATE_FILE), _json_bytes(payload))
    for name in contents:
        os.replace(os.path.join(run_dir, name + STAGED_SUFFIX), os.path.join(run_dir, name))


def save_metrics(run_dir: str, records: Sequence[Mapping[str, Any]]) -> None:
    lines = "".join(json.dumps(r) + "\n" for r in records)
    atomic_write_bytes(os.path.join(run_dir, METRICS_FILE), lines.encode("utf-8"))


def save_loss_plot(
    run_dir: str,
    records: Sequence[Mapping[str, Any]],
    tokens_per_char: float,
    floor_bits_per_char: float | None,
) -> None:
    """loss.png in bits per character, so char and BPE runs and the corpus floor share an axis.

    Train loss is per token; times tokens-per-character of the training text it becomes bits
    per character on average (exact for a character tokenizer).
    """
    # The Agg canvas directly, not pyplot: no display needed, no global backend switched.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(
        [r["step"] for r in records],
        [r["train_loss"] / math.log(2) * tokens_per_char for r in records],
        label="train",
        linewidth=1,
    )
    evaluated = [r for r in records if "val_bits_per_char" in r]
    ax.plot(
        [r["step"] for r in evaluated],
        [r["val_bits_per_char"] for r in evaluated],
        "o-",
        label="validation",
        markersize=3,
    )
    if floor_bits_per_char is not None:
        ax.axhline(
            floor_bits_per_char,
            color="k",
            linestyle="--",
            linewidth=1,
            label=f"corpus entropy floor ({floor_bits_per_char:.3f})",
        )
    ax.set_xlabel("step")
    ax.set_ylabel("bits per character")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    atomic_write_bytes(os.path.join(run_dir, PLOT_FILE), buffer.getvalue())


# ------------------------------------------------------------------------------ reading
def _read_bytes(path: str, what: str) -> bytes:
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: missing ({what})")
    with open(path, "rb") as f:
        return f.read()


def _read_json(path: str, what: str) -> Any:
    raw = _read_bytes(path, what)
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError as e:  # also not UTF-8, or an integer of thousands of digits
        raise CheckpointError(f"{path}: corrupt or truncated JSON ({e})") from e
    except RecursionError:  # a crafted [[[[...]]]]; ours are a few levels deep
        raise CheckpointError(f"{path}: corrupt JSON (nested too deeply)") from None


def _read_safetensors(path: str, what: str) -> tuple[dict[str, np.ndarray], str]:
    """Tensors of a safetensors file and its sha256; never unpickles anything."""
    raw = _read_bytes(path, what)
    try:
        tensors = safetensors.numpy.load(raw)
    except SafetensorError as e:
        raise CheckpointError(f"{path}: not a valid safetensors file ({e})") from e
    return tensors, hashlib.sha256(raw).hexdigest()


def _check_header(data: Any, path: str, expected_format: str) -> None:
    if not isinstance(data, dict) or data.get("format") != expected_format:
        raise CheckpointError(f"{path}: not a {expected_format} file (no format field)")
    if data.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: unsupported version {data.get('version')!r} (this tinytorch reads {VERSION})"
        )


def load_config(run_dir: str) -> RunConfig:
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isdir(run_dir):
        raise CheckpointError(f"{run_dir}: no such run directory")
    data = _read_json(path, "no checkpoint in this directory?")
    _check_header(data, path, FORMAT)
    for key, kind in (("model", dict), ("train", dict), ("tokenizer", str)):
        if not isinstance(data.get(key), kind):
            raise CheckpointError(f"{path}: key {key!r} must be a JSON {kind.__name__}")
    if data["tokenizer"] not in TOKENIZER_KINDS:
        raise CheckpointError(
            f"{path}: unknown tokenizer {data['tokenizer']!r} (known: {list(TOKENIZER_KINDS)})"
        )
    return RunConfig(model=data["model"], train=data["train"], tokenizer=data["tokenizer"])


def gpt_parameter_count(model_config: Mapping[str, Any]) -> int | None:
    """Parameters of `GPT(**model_config)` without building it; None if the sizes are not ints.

    Per block: two LayerNorms (4D), q/k/v/out projections with biases (4D^2 + 4D) and the
    4x MLP (8D^2 + 5D). A tied output head shares the token embedding's V*D.
    """
    sizes = [model_config.get(k) for k in ("vocab_size", "embed_dim", "num_layers", "max_seq_len")]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in sizes):
        return None  # GPT's own argument checks will say what is wrong
    vocab, dim, layers, max_len = sizes
    count = vocab * dim + layers * (12 * dim * dim + 13 * dim) + 2 * dim
    if model_config.get("pos_encoding", "learned") == "learned":
        count += max_len * dim
    if not model_config.get("tie_weights", True):
        count += vocab * dim
    return count


def _check_declared_size(config: RunConfig, run_dir: str) -> None:
    """Refuse a config that declares a big model whose weights model.safetensors cannot hold.

    config.json's sizes decide how much memory building the model allocates, so they are
    checked against the weight file (every parameter is stored there) first. A small model
    (up to SMALL_MODEL_BYTES) is cheap to build, and the per-tensor check that follows then
    names the tensor whose shape differs, which says more than a byte count.
    """
    count = gpt_parameter_count(config.model)
    weights = os.path.join(run_dir, MODEL_FILE)
    if count is None or count * 4 <= SMALL_MODEL_BYTES or not os.path.isfile(weights):
        return  # a bad size or a missing file is reported by the steps that follow
    size = os.path.getsize(weights)
    if count * 4 > size:
        raise CheckpointError(
            f"{os.path.join(run_dir, CONFIG_FILE)}: declares a model of {count:,} float32 "
            f"parameters ({count * 4:,} bytes), but {MODEL_FILE} holds only {size:,} bytes"
        )


def build_model(config: RunConfig, run_dir: str) -> GPT:
    """A freshly initialised GPT of the configured shape (an invalid config is the file's fault)."""
    _check_declared_size(config, run_dir)
    path = os.path.join(run_dir, CONFIG_FILE)
    try:
        return GPT(**config.model)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: bad model config ({e})") from e
    except MemoryError:
        raise CheckpointError(f"{path}: the configured model does not fit in memory") from None


def load_weights(run_dir: str, model: Module) -> str:
    """Load model.safetensors into `model`, checking every name and shape; return its sha256."""
    path = os.path.join(run_dir, MODEL_FILE)
    tensors, sha = _read_safetensors(path, "the model weights")
    expected = model.state_dict()
    for key in expected:
        if key not in tensors:
            raise CheckpointError(f"{path}: tensor {key!r} is missing (config.json expects it)")
    for key, value in tensors.items():
        if key not in expected:
            raise CheckpointError(f"{path}: unexpected tensor {key!r} (not in the config's model)")
        if value.shape != expected[key].shape:
            raise CheckpointError(
                f"{path}: tensor {key!r} has shape {value.shape}, config.json implies "
                f"{expected[key].shape}"
            )
        if value.dtype != expected[key].dtype:
            raise CheckpointError(
                f"{path}: tensor {key!r} has dtype {value.dtype}, expected {expected[key].dtype}"
            )
    model.load_state_dict(tensors)
    return sha


def load_tokenizer(run_dir: str, config: RunConfig, vocab_size: int) -> Tokenizer:
    path = os.path.join(run_dir, TOKENIZER_FILE)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: missing (the run's tokenizer)")
    try:  # loading as the configured class also rejects a tokenizer of the other kind
        tokenizer = TOKENIZER_CLASSES[config.tokenizer].load(path)
    except ValueError as e:
        raise CheckpointError(f"{e} (config.json says tokenizer {config.tokenizer!r})") from e
    if tokenizer.vocab_size != vocab_size:
        raise CheckpointError(
            f"{path}: vocabulary of {tokenizer.vocab_size} tokens, but the model has "
            f"vocab_size={vocab_size}"
        )
    return tokenizer


def load_model(run_dir: str) -> tuple[GPT, Tokenizer, RunConfig]:
    """Everything `generate` needs: the trained model, its tokenizer and the run's config."""
    config = load_config(run_dir)
    model = build_model(config, run_dir)
    load_weights(run_dir, model)
    tokenizer = load_tokenizer(run_dir, config, model.config["vocab_size"])
    return model, tokenizer, config


def load_training_state(run_dir: str, model: Module) -> tuple[dict[str, Any], dict[str, Any]]:
    """Load the weights into `model` and return (optimizer state, trainer state) for a resume.

    First settles a checkpoint write that a crash interrupted (`_finish_commit`), then refuses
    weight files other than the ones trainer_state.json vouches for.
    """
    state_path = os.path.join(run_dir, TRAINER_STATE_FILE)
    state = _read_json(state_path, "nothing to resume: no completed checkpoint")
    _check_header(state, state_path, TRAINER_STATE_FORMAT)
    hashes = state.get("sha256")
    if not isinstance(hashes, dict) or "optimizer" not in state:
        raise CheckpointError(f"{state_path}: incomplete trainer state (no sha256/optimizer)")
    _finish_commit(run_dir, hashes)
    model_sha = load_weights(run_dir, model)
    optimizer_path = os.path.join(run_dir, OPTIMIZER_FILE)
    arrays, optimizer_sha = _read_safetensors(optimizer_path, "the optimizer state")
    for name, sha in ((MODEL_FILE, model_sha), (OPTIMIZER_FILE, optimizer_sha)):
        if hashes.get(name) != sha:
            raise CheckpointError(
                f"{os.path.join(run_dir, name)}: does not belong to {TRAINER_STATE_FILE} "
                "(changed, or copied from another checkpoint); cannot resume bit-exactly"
            )
    optimizer_state = _decode_tree(state.pop("optimizer"), arrays, optimizer_path)
    for key in ("format", "version", "sha256"):
        del state[key]
    return optimizer_state, state


def _finish_commit(run_dir: str, hashes: Mapping[str, Any]) -> None:
    """Settle staged weight files left by a crash during `save_training_state`.

    A staged file that trainer_state.json vouches for belongs to a committed checkpoint whose
    renames did not finish: move it into place. Any other staged file is from a checkpoint that
    was never committed: the previous one stands, so the staged file is dropped.
    """
    for name in WEIGHT_FILES:
        staged = os.path.join(run_dir, name + STAGED_SUFFIX)
        if not os.path.isfile(staged):
            continue
        with open(staged, "rb") as f:
            committed = hashlib.sha256(f.read()).hexdigest() == hashes.get(name)
        if committed:
            os.replace(staged, os.path.join(run_dir, name))
        else:
            os.remove(staged)


def load_metrics(run_dir: str) -> list[dict[str, Any]]:
    path = os.path.join(run_dir, METRICS_FILE)
    if not os.path.isfile(path):
        return []
    records = []
    for number, line in enumerate(_read_bytes(path, "metrics").decode("utf-8").splitlines(), 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{path}: line {number} is not JSON ({e})") from e
        if not isinstance(record, dict) or not isinstance(record.get("step"), int):
            raise CheckpointError(f"{path}: line {number} has no integer 'step'")
        loss = record.get("train_loss")
        if isinstance(loss, bool) or not isinstance(loss, (int, float)):
            raise CheckpointError(f"{path}: line {number} has no numeric 'train_loss'")
        records.append(record)
    return records


# --------------------------------------------------- nested state <-> JSON + named arrays
def _encode_tree(obj: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON-able copy of a nested state with arrays moved into `arrays` (by their path).

    Exact round trip: NumPy scalars stay NumPy scalars (their dtype matters to later
    arithmetic), int dict keys stay ints, tuples stay tuples.
    """
    if isinstance(obj, np.ndarray):
        arrays[path] = np.ascontiguousarray(obj)
        return {"__array__": path}
    if isinstance(obj, np.generic):
        arrays[path] = np.asarray(obj)
        return {"__scalar__": path}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [_encode_tree(v, f"{path}.{i}", arrays) for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else {"__tuple__": items}
    if isinstance(obj, Mapping):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode_tree(v, f"{path}.{k}", arrays) for k, v in obj.items()}
        return {
            "__items__": [
                [_encode_tree(k, f"{path}.{i}.key", arrays), _encode_tree(v, f"{path}.{i}", arrays)]
                for i, (k, v) in enumerate(obj.items())
            ]
        }
    raise TypeError(f"cannot store a {type(obj).__name__} at {path!r} in a checkpoint")


def _decode_tree(obj: Any, arrays: Mapping[str, np.ndarray], source: str) -> Any:
    def take(name: Any) -> np.ndarray:
        if name not in arrays:
            raise CheckpointError(f"{source}: tensor {name!r} is missing")
        return arrays[name]

    if isinstance(obj, list):
        return [_decode_tree(v, arrays, source) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if obj.keys() == {"__array__"}:
        return take(obj["__array__"]).copy()
    if obj.keys() == {"__scalar__"}:
        return take(obj["__scalar__"])[()]
    if obj.keys() == {"__tuple__"}:
        return tuple(_decode_tree(v, arrays, source) for v in obj["__tuple__"])
    if obj.keys() == {"__items__"}:
        return {
            _decode_tree(k, arrays, source): _decode_tree(v, arrays, source)
            for k, v in obj["__items__"]
        }
    return {k: _decode_tree(v, arrays, source) for k, v in obj.items()}
