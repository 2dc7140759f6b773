"""Hugging Face GPT-2 and tinytorch's GPT: the same model, two ways of writing it down.

tinytorch's GPT with learned positions *is* GPT-2 (pre-norm blocks, tanh GELU, biases, a final
LayerNorm, a head tied to the token embedding), so converting is renaming plus two layout facts
of Hugging Face's `GPT2LMHeadModel`:

- its projections are `Conv1D`s, whose weight is stored (in, out), the transpose of a
  `Linear`'s (out, in);
- `attn.c_attn` is one fused projection whose output is q | k | v, where ours are three.

`gpt2_layout` states the correspondence once, tensor by tensor, and both directions use it:
`load_gpt2` (`GPT.from_pretrained`) splits and transposes a file's tensors into a model, and
`gpt2_tensors` (the export) joins a model's arrays into a file's. Files name tensors with or
without the `transformer.` prefix (`GPT2LMHeadModel` or `GPT2Model` checkpoints); the causal-mask
buffers some of them store (`attn.bias`, `attn.masked_bias`) are not weights and are skipped.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinytorch.core.checks import is_int
from tinytorch.core.module import Module
from tinytorch.core.random import uninitialized
from tinytorch.files import read_json
from tinytorch.models.gpt_config import SMALL_MODEL_BYTES, GPTConfig
from tinytorch.models.hf_weight_files import JSON_LIMIT, PretrainedError, WeightFiles
from tinytorch.settings import SettingError

CONFIG_FILE = "config.json"
MODEL_TYPE = "gpt2"
PREFIX = "transformer."
HEAD = "lm_head.weight"
SKIPPED_BUFFERS = (".attn.bias", ".attn.masked_bias")
ACTIVATIONS_IN = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu",
                  "relu": "relu"}
ACTIVATIONS_OUT = {"gelu_tanh": "gelu_new", "gelu": "gelu", "relu": "relu"}
DROPOUT_KEYS = ("embd_pdrop", "attn_pdrop", "resid_pdrop")
# config.json key -> GPTConfig field, for the settings that map one to one.
CONFIG_KEYS = {"vocab_size": "vocab_size", "n_embd": "embed_dim", "n_layer": "num_layers",
               "n_head": "num_heads", "n_positions": "max_seq_len", "n_inner": "mlp_hidden_dim",
               "layer_norm_epsilon": "layer_norm_eps", "tie_word_embeddings": "tie_weights"}
# GPT2Config's defaults, for the keys a config.json leaves out (as transformers reads it).
GPT2_DEFAULTS: dict[str, Any] = {
    "vocab_size": 50257, "n_positions": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12,
    "n_inner": None, "activation_function": "gelu_new", "resid_pdrop": 0.1, "embd_pdrop": 0.1,
    "attn_pdrop": 0.1, "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True,
    "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
    "reorder_and_upcast_attn": False, "add_cross_attention": False,
}
# Options that change what GPT-2 computes, each with the only value tinytorch's GPT computes.
FIXED_OPTIONS = ("scale_attn_weights", "scale_attn_by_inverse_layer_idx",
                 "reorder_and_upcast_attn", "add_cross_attention")
# Position schemes GPT-2 can hold: its wpe table is learned; a sinusoidal table is exported as
# wpe's initial value (equal logits; PyTorch then trains it).
EXPORTABLE_POSITIONS = ("learned", "sinusoidal")


class ExportError(ValueError):
    """A model that a Hugging Face GPT-2 directory cannot express, or a directory that an export
    may not write; the message says which and why."""


# --------------------------------------------------------------------------- config
def is_huggingface_config(data: Any) -> bool:
    """A Hugging Face model config (it names a model_type), as opposed to a tinytorch run's."""
    return isinstance(data, dict) and "model_type" in data and "format" not in data


def read_gpt2_config(path: str, dropout: float | None = None) -> GPTConfig:
    """The GPTConfig of a GPT-2 config.json; anything tinytorch's GPT cannot compute is refused.

    GPT-2 has three dropout probabilities (embeddings, attention, residual) and tinytorch's GPT
    one: `dropout` None takes theirs when they agree and refuses to guess when they differ.
    """
    try:
        data = read_json(path, limit=JSON_LIMIT)
    except FileNotFoundError:
        raise PretrainedError(f"{path}: missing (the model's config)") from None
    except ValueError as e:
        raise PretrainedError(str(e)) from None
    if isinstance(data, dict) and "format" in data:
        raise PretrainedError(
            f"{path}: a tinytorch run's config, not a Hugging Face model's: load the run with "
            "tinytorch.run_directory.load_run"
        )
    if not isinstance(data, dict) or data.get("model_type") != MODEL_TYPE:
        found = data.get("model_type") if isinstance(data, dict) else None
        raise PretrainedError(
            f"{path}: model_type {found!r} is not supported; tinytorch loads Hugging Face "
            f"model_type {MODEL_TYPE!r} (GPT-2) directories"
        )
    values = {**GPT2_DEFAULTS, **data}
    for key in FIXED_OPTIONS:
        if values[key] != GPT2_DEFAULTS[key]:
            raise PretrainedError(
                f"{path}: {key}={json.dumps(values[key])} is not supported (tinytorch's GPT "
                f"computes GPT-2 with {key}={json.dumps(GPT2_DEFAULTS[key])})"
            )
    activation = values["activation_function"]
    if not isinstance(activation, str) or activation not in ACTIVATIONS_IN:
        raise PretrainedError(
            f"{path}: activation_function {activation!r} is not supported; tinytorch has "
            f"{list(ACTIVATIONS_IN)}"
        )
    keys = {field: key for key, field in CONFIG_KEYS.items()}
    if dropout is None:
        probabilities = [values[key] for key in DROPOUT_KEYS]
        if any(p != probabilities[0] for p in probabilities):
            shown = ", ".join(f"{key}={values[key]}" for key in DROPOUT_KEYS)
            raise PretrainedError(
                f"{path}: {shown} differ, and tinytorch's GPT has one dropout probability: "
                "choose it (dropout=..., or --dropout)"
            )
        dropout, keys["dropout"] = probabilities[0], "resid_pdrop"
    settings = {field: values[key] for key, field in CONFIG_KEYS.items()}
    if not is_int(settings["vocab_size"]):  # GPTConfig leaves it open; a model cannot
        raise PretrainedError(
            f"{path}: vocab_size: must be a positive integer, got {settings['vocab_size']!r}"
        )
    try:
        return GPTConfig(**settings, activation=ACTIVATIONS_IN[activation], dropout=dropout,
                         pos_encoding="learned")
    except SettingError as e:
        if e.key not in keys:  # the caller's dropout, not the file's
            raise
        raise PretrainedError(f"{path}: {keys[e.key]}: {e.problem}") from None


def gpt2_config(config: GPTConfig, tokenizer: Any = None) -> dict[str, Any]:
    """config.json of the GPT-2 equal to a GPT of `config` (GPT2Config's fields)."""
    check_exportable(config)
    ids = {role: getattr(tokenizer, f"{role}_id", None) for role in ("bos", "eos", "pad")}
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": MODEL_TYPE,
        **{key: getattr(config, field) for key, field in CONFIG_KEYS.items()},
        "activation_function": ACTIVATIONS_OUT[config.activation],
        **{key: config.dropout for key in DROPOUT_KEYS},
        **{key: GPT2_DEFAULTS[key] for key in FIXED_OPTIONS},
        "initializer_range": 0.02,
        "use_cache": True,
        **{f"{role}_token_id": token_id for role, token_id in ids.items()},
        "dtype": "float32",
    }


def check_exportable(config: GPTConfig) -> None:
    if config.pos_encoding not in EXPORTABLE_POSITIONS:
        raise ExportError(
            f"a model with {config.pos_encoding!r} positions cannot be written as GPT-2, whose "
            "only positions are a table added to the token embeddings (wpe); tinytorch "
            f"exports {' and '.join(EXPORTABLE_POSITIONS)} positions"
        )


# --------------------------------------------------------------------------- tensors
@dataclass(frozen=True)
class GPT2Tensor:
    """One tensor of a GPT2LMHeadModel file and the tinytorch arrays it holds.

    The file's tensor is our arrays joined along the last axis, each transposed first if the
    file's is a Conv1D weight; only the fused c_attn joins more than one (q | k | v).
    """

    name: str  # with the "transformer." prefix (lm_head.weight has none)
    ours: tuple[str, ...]
    conv1d: bool = False


def gpt2_layout(config: GPTConfig) -> list[GPT2Tensor]:
    """Every tensor of the GPT-2 file of a GPT of `config`, in GPT2LMHeadModel's order."""

    def linear(hf: str, ours: str, *fused: str) -> list[GPT2Tensor]:
        names = (ours, *fused)
        return [
            GPT2Tensor(f"{hf}.weight", tuple(f"{n}.weight" for n in names), conv1d=True),
            GPT2Tensor(f"{hf}.bias", tuple(f"{n}.bias" for n in names)),
        ]

    def norm(hf: str, ours: str) -> list[GPT2Tensor]:
        return [GPT2Tensor(f"{hf}.{p}", (f"{ours}.{p}",)) for p in ("weight", "bias")]

    table = "weight" if config.pos_encoding == "learned" else "pe"
    layout = [
        GPT2Tensor(PREFIX + "wte.weight", ("embedding.token_embedding.weight",)),
        GPT2Tensor(PREFIX + "wpe.weight", (f"embedding.position_encoding.{table}",)),
    ]
    for i in range(config.num_layers):
        h, b = f"{PREFIX}h.{i}.", f"blocks.{i}."
        layout += norm(h + "ln_1", b + "ln_1")
        layout += linear(h + "attn.c_attn", *(f"{b}attn.{p}_proj" for p in "qkv"))
        layout += linear(h + "attn.c_proj", b + "attn.out_proj")
        layout += norm(h + "ln_2", b + "ln_2")
        layout += linear(h + "mlp.c_fc", b + "mlp.0")
        layout += linear(h + "mlp.c_proj", b + "mlp.2")
    layout += norm(PREFIX + "ln_f", "ln_f")
    if not config.tie_weights:
        layout.append(GPT2Tensor(HEAD, (HEAD,)))
    return layout


def _arrays(model: Module) -> dict[str, np.ndarray]:
    """The model's arrays by state_dict name (not copies), the fixed sinusoidal table included."""
    arrays = {name: p.data for name, p in model.named_parameters()}
    if model.config.pos_encoding == "sinusoidal":
        arrays["embedding.position_encoding.pe"] = model.embedding.position_encoding.pe.data
    return arrays


def _file_shape(tensor: GPT2Tensor, arrays: dict[str, np.ndarray]) -> tuple[int, ...]:
    shapes = [arrays[name].shape[::-1] if tensor.conv1d else arrays[name].shape
              for name in tensor.ours]
    return (*shapes[0][:-1], sum(shape[-1] for shape in shapes))


def gpt2_tensors(model: Module) -> dict[str, np.ndarray]:
    """The model's weights under GPT2LMHeadModel's names and layout (new C-ordered arrays:
    safetensors writes an array's memory as it is, so a transposed view would be garbled)."""
    check_exportable(model.config)
    arrays = _arrays(model)
    return {
        t.name: np.ascontiguousarray(
            np.concatenate([arrays[n].T if t.conv1d else arrays[n] for n in t.ours], axis=-1)
        )
        for t in gpt2_layout(model.config)
    }


# --------------------------------------------------------------------------- loading
def load_gpt2(
    path: str | os.PathLike[str],
    build: Callable[[GPTConfig], Module],
    dropout: float | None = None,
) -> Module:
    """The GPT in a Hugging Face GPT-2 directory (config.json + safetensors weights), built by
    `build` (the GPT class: `GPT.from_pretrained` passes itself, so this module does not import
    the model it fills).

    Every name, shape and dtype is checked against config.json before any weight is read, then
    each tensor is read alone and copied into the new model, so memory stays near one copy of
    the weights. On any error nothing is returned: there is no half-loaded model. The model is
    in eval mode, as transformers returns it (call `.train()` to fine-tune it).
    """
    directory = os.fspath(path)
    config = read_gpt2_config(os.path.join(directory, CONFIG_FILE), dropout)
    with WeightFiles(directory) as files:
        stored = _stored_names(files)
        _check_declared_size(files, stored, config)
        with uninitialized():  # every weight is about to be overwritten: do not draw them
            model = build(config)
        arrays = _arrays(model)
        layout = gpt2_layout(config)
        _check_tensors(files, stored, layout, arrays, config)
        for tensor in layout:
            if len(tensor.ours) == 1 and not tensor.conv1d:  # read straight into the model
                files.read(stored[tensor.name], out=arrays[tensor.ours[0]])
                continue
            pieces = np.split(files.read(stored[tensor.name]), len(tensor.ours), axis=-1)
            for name, piece in zip(tensor.ours, pieces, strict=True):
                arrays[name][...] = piece.T if tensor.conv1d else piece
        if config.tie_weights and HEAD in stored:  # a tied head stored anyway must be wte
            head = files.read(stored[HEAD])
            if not np.array_equal(head, model.lm_head.weight.data):
                raise PretrainedError(
                    f"{files.file_of(stored[HEAD])}: {HEAD} differs from {PREFIX}wte.weight, "
                    "but config.json says tie_word_embeddings=true"
                )
    return model.eval()  # as transformers' from_pretrained: ready for inference


def _stored_names(files: WeightFiles) -> dict[str, str]:
    """Canonical (prefixed) name -> the name in the files, buffers left out."""
    stored: dict[str, str] = {}
    for name in files:
        if name.endswith(SKIPPED_BUFFERS):
            continue
        canonical = name if name.startswith(PREFIX) or name == HEAD else PREFIX + name
        if canonical in stored:
            raise PretrainedError(
                f"{files.file_of(name)}: tensor {name!r} is stored twice (also as "
                f"{stored[canonical]!r})"
            )
        stored[canonical] = name
    return stored


def _check_declared_size(files: WeightFiles, stored: dict[str, str], config: GPTConfig) -> None:
    """config.json's sizes decide what building the model allocates: refuse, before building,
    a config that declares more parameters than the files hold (a huge n_embd, say). A small
    model is cheap to build, and the per-tensor check that follows names what differs."""
    held = sum(math.prod(files.shape(name)) for name in stored.values())
    declared = config.parameter_count()
    if declared * 4 > SMALL_MODEL_BYTES and declared > held:
        raise PretrainedError(
            f"{files.directory}: config.json declares a model of {declared:,} parameters, but "
            f"the weight files hold only {held:,}"
        )


def _check_tensors(
    files: WeightFiles,
    stored: dict[str, str],
    layout: list[GPT2Tensor],
    arrays: dict[str, np.ndarray],
    config: GPTConfig,
) -> None:
    """Every tensor the config implies is present with its shape and a readable dtype; no other
    tensor is (a tied head stored anyway is allowed: it is compared with wte after reading)."""
    expected = {t.name: _file_shape(t, arrays) for t in layout}
    for name, shape in expected.items():
        if name not in stored:
            raise PretrainedError(
                f"{files.directory}: tensor {name!r} is missing (config.json implies shape "
                f"{shape})"
            )
        actual = files.shape(stored[name])
        if actual != shape:
            raise PretrainedError(
                f"{files.file_of(stored[name])}: tensor {stored[name]!r} has shape {actual}, "
                f"config.json implies {shape}"
            )
        files.check_dtype(stored[name])
    allowed = set(expected) | ({HEAD} if config.tie_weights else set())
    for name in stored:
        if name not in allowed:
            raise PretrainedError(
                f"{files.file_of(stored[name])}: unexpected tensor {stored[name]!r} (not part "
                "of a GPT-2 of this config.json)"
            )
    if HEAD in stored and HEAD not in expected:
        files.check_dtype(stored[HEAD])
        if files.shape(stored[HEAD]) != expected[PREFIX + "wte.weight"]:
            raise PretrainedError(
                f"{files.file_of(stored[HEAD])}: tensor {HEAD!r} has shape "
                f"{files.shape(stored[HEAD])}, config.json implies "
                f"{expected[PREFIX + 'wte.weight']}"
            )
