"""docs/errors.md is the specification of how bad input is refused; this file holds it to it.

Each case here is a documented row: an id and a call that feeds tinytorch one bad input. The
expected error type and exact message are read from the row in docs/errors.md (paths inside a
test's scratch directory are written `<dir>` there), so the table cannot drift from the code:
every row must have a case and every case a row.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
import safetensors.numpy

import tinytorch
from tinytorch import memory_budget
from tinytorch import run_directory as rd
from tinytorch.cli import UsageError, build_parser
from tinytorch.core.attention import MultiHeadAttention, scaled_dot_product_attention
from tinytorch.core.errors import IndexOutOfRangeError
from tinytorch.core.losses import cross_entropy
from tinytorch.core.random import manual_seed
from tinytorch.core.tensor import Tensor
from tinytorch.data import get_batch, load_text
from tinytorch.hf_export import ExportError, export_gpt2, export_run
from tinytorch.inspection import inspect_run
from tinytorch.models.hf_weight_files import PretrainedError
from tinytorch.models.ngram import NGramModel
from tinytorch.models.transformer import GPT
from tinytorch.run_directory import CheckpointError
from tinytorch.settings import SettingError
from tinytorch.text.embeddings import EmbeddingLayer, PositionalEncoding, RotaryEmbedding
from tinytorch.text.tokenization import BPETokenizer, CharTokenizer, Tokenizer
from tinytorch.train import TrainingError
from tinytorch.train_config import TrainConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"
ERROR_TYPES = {
    t.__name__: t
    for t in (
        IndexOutOfRangeError,
        TypeError,
        ValueError,
        FileNotFoundError,
        CheckpointError,
        TrainingError,
        UsageError,
        SettingError,
        RuntimeError,
        ExportError,
        PretrainedError,
    )
}


@dataclass
class Scratch:
    """What a case may touch: its own directory, copies of the trained run, a pickle writer."""

    dir: Path
    run_copy: Callable[[], Path]
    pickle_bomb: Callable[..., Path]
    huge_tensor_safetensors: bytes

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.dir / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path


@dataclass(frozen=True)
class Case:
    id: str
    trigger: Callable[[Scratch], Any]


# ------------------------------------------------------------------------------- helpers
def _gpt() -> GPT:
    manual_seed(0)
    return GPT(vocab_size=10, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=6)


def _cli(*argv: str) -> Any:
    """Run a command line like `tinytorch`, but let its error escape instead of printing it."""
    args = build_parser().parse_args(list(argv))
    return args.run(args)


def _edit_json(path: Path, edit: Callable[[Any], None]) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _in_run(name: str, edit: Callable[[Path], None], then: Callable[[Path], Any]) -> Callable:
    """A trigger: copy the trained run, `edit` its file `name`, then call `then(run_dir)`."""

    def trigger(s: Scratch) -> Any:
        run = s.run_copy()
        edit(run / name)
        return then(run)

    return trigger


def _load_model(run: Path) -> Any:
    return rd.load_run(run)


def _resume(run: Path, *more: str) -> Any:
    return _cli("train", "--out", str(run), "--resume", "--steps", "6", *more)


def _truncate(path: Path) -> None:
    """Keep the first 40 bytes, as a crash of a non-atomic writer might."""
    path.write_bytes(path.read_bytes()[:40])


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _rewrite_tensors(edit: Callable[[dict[str, np.ndarray]], None]) -> Callable[[Path], None]:
    def rewrite(path: Path) -> None:
        tensors = dict(safetensors.numpy.load_file(path))
        edit(tensors)
        path.write_bytes(safetensors.numpy.save(tensors))

    return rewrite


def _bpe_run(s: Scratch) -> Path:
    """A small run directory with a BPE tokenizer (written directly, no training)."""
    run = s.dir / "bpe-run"
    run.mkdir()
    tokenizer = BPETokenizer.train("once upon a time " * 20, 262)
    manual_seed(0)
    model = GPT(tokenizer.vocab_size, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=8)
    run_dir = rd.RunDirectory(run)
    run_dir.write_config(rd.RunConfig(model.config, TrainConfig(tokenizer="bpe")))
    run_dir.write_tokenizer(tokenizer)
    (run / rd.MODEL_FILE).write_bytes(safetensors.numpy.save(model.state_dict()))
    return run


def _exponential_merges(s: Scratch) -> Path:
    """A 600-byte tokenizer file whose merges double one token 30 times (2**31 bytes)."""
    merges = [[97, 97]] + [[256 + i, 256 + i] for i in range(30)]
    payload = {
        "format": "tinytorch.tokenizer",
        "version": 1,
        "type": "bpe",
        "pattern": "gpt4",
        "merges": merges,
        "special_tokens": {"<pad>": 256 + len(merges)},
    }
    return s.file("tokenizer.json", json.dumps(payload))


def _pickle_in_place_of_a_tokenizer(s: Scratch) -> Any:
    s.pickle_bomb(s.dir / "tokenizer.json")
    return Tokenizer.load(s.dir / "tokenizer.json")


def _pickle_in_place_of_weights(s: Scratch) -> Any:
    run = s.run_copy()
    s.pickle_bomb(run / rd.MODEL_FILE)
    return _load_model(run)


def _huge_tensor_in_place_of_weights(s: Scratch) -> Any:
    run = s.run_copy()
    (run / rd.MODEL_FILE).write_bytes(s.huge_tensor_safetensors)
    return _load_model(run)


def _tokenizer_file(s: Scratch, edit: Callable[[dict], None] | None = None) -> Path:
    path = s.dir / "tokenizer.json"
    CharTokenizer("abc").save(path)
    if edit is not None:
        _edit_json(path, edit)
    return path


def _config_model(key: str, value: Any) -> Callable[[Path], None]:
    return lambda path: _edit_json(path, lambda d: d["model"].__setitem__(key, value))


def _set(key: str, value: Any) -> Callable[[Path], None]:
    return lambda path: _edit_json(path, lambda d: d.__setitem__(key, value))


def _set_in(section: str, key: str, value: Any) -> Callable[[Path], None]:
    return lambda path: _edit_json(path, lambda d: d[section].__setitem__(key, value))


def _load_edited_hf_tokenizer(*keys_then_value: Any) -> Callable[[Scratch], Any]:
    """A trigger: write a small tokenizer.json to <dir>/hf, set data[k1][k2]... to the value,
    and load it."""
    *keys, last, value = keys_then_value

    def trigger(s: Scratch) -> Any:
        BPETokenizer([(97, 98)], ["<pad>"]).save_pretrained(s.dir / "hf")

        def edit(data: Any) -> None:
            for key in keys:
                data = data[key]
            data[last] = value

        _edit_json(s.dir / "hf" / "tokenizer.json", edit)
        return BPETokenizer.from_pretrained(s.dir / "hf")

    return trigger


# ------------------------------------------------- helpers of the reliability round 2 cases
def _train_into_a_model_folder(s: Scratch) -> Any:
    folder = s.dir / "gpt2"
    folder.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (folder / name).write_text("{}")
    return _cli("train", "--preset", "test", "--out", str(folder))


def _a_second_writer(s: Scratch) -> Any:
    """The run is held (the lock file names its holder, here a made-up pid 4242)."""
    run = s.run_copy()
    with rd.RunDirectory.resume(run):
        (run / rd.LOCK_FILE).write_text("4242")
        return _resume(run)


def _set_group(index: int, key: str, value: Any) -> Callable[[Path], None]:
    return lambda p: _edit_json(
        p, lambda d: d["optimizer"]["param_groups"][index].__setitem__(key, value)
    )


def _vouched(
    name: str, edit: Callable[[dict[str, np.ndarray]], None], then: Callable[[Path], Any] = _resume
) -> Callable[[Scratch], Any]:
    """A trigger: rewrite the tensors of `name` and record its new sha256 in the trainer state,
    so the content checks, not the hash, must refuse it."""

    def trigger(s: Scratch) -> Any:
        run = s.run_copy()
        _rewrite_tensors(edit)(run / name)
        digest = hashlib.sha256((run / name).read_bytes()).hexdigest()
        _edit_json(run / rd.TRAINER_STATE_FILE, lambda d: d["sha256"].__setitem__(name, digest))
        return then(run)

    return trigger


def _rank_file(s: Scratch, *lines: str) -> Path:
    byte_lines = [f"{base64.b64encode(bytes([b])).decode()} {b}" for b in range(256)]
    return s.file("r.tiktoken", "\n".join([*byte_lines, *lines]) + "\n")


def _save_pretrained_over_a_run(s: Scratch) -> Any:
    run = s.run_copy()
    Tokenizer.load(run / "tokenizer.json").save_pretrained(run)


def _transpose_moment(tensors: dict[str, np.ndarray]) -> None:
    tensors["optimizer.state.0.exp_avg"] = tensors["optimizer.state.0.exp_avg"].T.copy()


def _add_stray_tensor(tensors: dict[str, np.ndarray]) -> None:
    tensors["stowaway"] = np.zeros(3, np.float32)


def _nan_in_a_weight(tensors: dict[str, np.ndarray]) -> None:
    tensors["ln_f.weight"][7] = np.nan


def _swap_a_character(path: Path) -> None:
    """The last character replaced by the next code point: the same size, other text."""
    vocab = json.loads(path.read_text())["vocab"]
    chars = sorted(vocab, key=vocab.get)[4:]
    CharTokenizer("".join(chars[:-1]) + chr(ord(chars[-1]) + 1)).save(path)


def _append_line(line: str) -> Callable[[Path], None]:
    return lambda path: path.write_text(path.read_text() + line + "\n")


def _sparse_2_gib(path: Path) -> Path:
    with open(path, "wb") as f:
        f.truncate(2 * 2**30)
    return path


def _header_and_data(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + length]), raw[8 + length :]


def _write_header(path: Path, header: dict | bytes, data: bytes) -> None:
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def _float8_weights(path: Path) -> None:
    header, data = _header_and_data(path)
    header["ln_f.bias"]["dtype"] = "F8_E4M3"
    _write_header(path, header, data)


def _garbled_header(path: Path) -> None:
    header, data = _header_and_data(path)
    _write_header(path, json.dumps(header).encode()[:-1] + b"\xff", data)


def _overlapping(path: Path) -> None:
    """The second tensor's data starts 4 bytes inside the first's."""
    header, data = _header_and_data(path)
    second = sorted(header, key=lambda name: header[name]["data_offsets"][0])[1]
    header[second]["data_offsets"] = [offset - 4 for offset in header[second]["data_offsets"]]
    _write_header(path, header, data)


def _on_a_16_gib_machine(trigger: Callable[[Scratch], Any]) -> Callable[[Scratch], Any]:
    def on_16_gib(s: Scratch) -> Any:
        with mock.patch.object(memory_budget, "memory_limit", return_value=16 * 2**30):
            return trigger(s)

    return on_16_gib


def _train_on_a_huge_text(s: Scratch) -> Any:
    path = s.dir / "huge.txt"
    with open(path, "wb") as f:
        f.truncate(10**9)  # sparse: no disk space, and never read
    return _cli("train", "--preset", "test", "--text", str(path), "--out", str(s.dir / "r"))


def _train_a_huge_batch(s: Scratch) -> Any:
    return _cli("train", "--preset", "test", "--batch-size", str(10**9), "--out", str(s.dir / "r"))


def _config_model_values(**values: Any) -> Callable[[Path], None]:
    return lambda path: _edit_json(path, lambda d: d["model"].update(values))


def _gpt2_dir(
    s: Scratch,
    config: Callable[[dict], None] | None = None,
    tensors: Callable[[dict[str, np.ndarray]], None] | None = None,
    truncate: bool = False,
) -> Path:
    """A Hugging Face GPT-2 directory at <dir>/hf (an export of `_gpt()`), edited."""
    export_gpt2(_gpt(), CharTokenizer.from_text("abcdef"), s.dir / "hf")
    if config is not None:
        _edit_json(s.dir / "hf" / "config.json", config)
    if tensors is not None:
        _rewrite_tensors(tensors)(s.dir / "hf" / "model.safetensors")
    if truncate:
        _truncate(s.dir / "hf" / "model.safetensors")
    return s.dir / "hf"


def _load_gpt2(**edits: Any) -> Callable[[Scratch], Any]:
    return lambda s: GPT.from_pretrained(_gpt2_dir(s, **edits))


def _only_a_pickle(s: Scratch) -> Any:
    directory = _gpt2_dir(s)
    (directory / "model.safetensors").unlink()
    s.pickle_bomb(directory / "pytorch_model.bin", "pickle")
    return GPT.from_pretrained(directory)


Q = np.zeros((1, 2, 3, 4), np.float32)  # (batch, heads, length, head_dim) for SDPA cases
X = np.zeros((1, 3, 8), np.float32)  # (batch, length, embed_dim) for MultiHeadAttention
LOGITS = np.zeros((2, 5), np.float32)

# ------------------------------------------------------------------ PyTorch-style code
def _write_parameter() -> None:
    tinytorch.nn.Parameter(tinytorch.zeros(2, 3))[0] = 1.0


def _write_after_use() -> None:
    y = tinytorch.ones(2, 3, requires_grad=True) * 2
    z = y * y
    y[0] = 0.0
    z.sum().backward()


def _write_into_graphless_view() -> None:
    row = tinytorch.zeros(2, 3)[0]
    row[:] = tinytorch.ones(3, requires_grad=True) * 2


CASES = [
    # ------------------------------------------------------------------ token ids
    Case("ids-out-of-range", lambda s: _gpt()(np.array([[1, 10]]))),
    Case("ids-negative", lambda s: _gpt()(np.array([[1, -1]]))),
    Case("ids-huge-unsigned", lambda s: _gpt()(np.array([[1, 2**63 + 1]], dtype=np.uint64))),
    Case("ids-float", lambda s: _gpt()(np.array([[1.0, 2.0]]))),
    Case("ids-nan", lambda s: _gpt()(np.array([[np.nan, 2.0]]))),
    Case("ids-bool", lambda s: _gpt()(np.array([[True, False]]))),
    Case("ids-object-array", lambda s: _gpt()(np.array([[1, 2]], dtype=object))),
    Case("ids-string", lambda s: _gpt()("hello")),
    Case("ids-ragged", lambda s: _gpt()([[1, 2], [3]])),
    Case("ids-wrong-rank", lambda s: _gpt()(np.zeros((1, 2, 3), np.int64))),
    Case("ids-empty", lambda s: _gpt()(np.zeros((1, 0), np.int64))),
    Case("embedding-layer-wrong-rank", lambda s: EmbeddingLayer(10, 4)(np.zeros((2, 3, 4), int))),
    Case("decode-id-out-of-range", lambda s: CharTokenizer("ab").decode([4, 6])),
    Case("decode-id-negative", lambda s: CharTokenizer("ab").decode([4, -1])),
    Case("decode-ids-float", lambda s: CharTokenizer("ab").decode(np.array([4.0]))),
    Case("decode-ids-batch", lambda s: CharTokenizer("ab").decode([[4, 5], [5, 4]])),
    Case("decode-ids-ragged", lambda s: CharTokenizer("ab").decode([[4], [4, 5]])),
    Case("prompt-ids-float", lambda s: _gpt().generate(np.array([1.0]), 2)),
    Case("prompt-ids-empty", lambda s: _gpt().generate(np.zeros(0, np.int64), 2)),
    Case("eos-id-out-of-range", lambda s: _gpt().generate(np.array([1]), 2, eos_id=10)),
    # ------------------------------------------------------------ sequence length
    Case("sequence-too-long", lambda s: _gpt()(np.zeros((1, 7), np.int64))),
    Case(
        "offset-past-the-table",
        lambda s: PositionalEncoding(16, 4)(np.zeros((2, 3, 4), np.float32), offset=14),
    ),
    Case("generate-past-the-table", lambda s: _gpt().generate(np.array([1]), 10)),
    # -------------------------------------------------------- sizes that must agree
    Case(
        "positions-embed-dim-mismatch",
        lambda s: PositionalEncoding(16, 4)(np.zeros((2, 5, 6), np.float32)),
    ),
    Case("attention-embed-dim-mismatch", lambda s: MultiHeadAttention(8, 2)(X[..., :6])),
    Case(
        "rotary-head-dim-mismatch",
        lambda s: RotaryEmbedding(8)(np.zeros((2, 3, 6), np.float32)),
    ),
    Case(
        "query-key-dim-mismatch",
        lambda s: scaled_dot_product_attention(Q, np.zeros((1, 2, 3, 5), np.float32), Q),
    ),
    Case(
        "heads-indivisible",
        lambda s: GPT(10, embed_dim=10, num_layers=1, num_heads=3, max_seq_len=6),
    ),
    Case("rope-odd-head-dim", lambda s: GPT(10, 6, 1, 2, 8, pos_encoding="rope")),
    Case("attention-heads-indivisible", lambda s: MultiHeadAttention(10, 3)),
    # ----------------------------------------------------------------------- masks
    Case(
        "mask-wrong-shape",
        lambda s: scaled_dot_product_attention(Q, Q, Q, attn_mask=np.ones((4, 4), bool)),
    ),
    Case(
        "mask-wrong-dtype",
        lambda s: scaled_dot_product_attention(Q, Q, Q, attn_mask=np.ones((3, 3), np.int64)),
    ),
    Case(
        "mask-nan",
        lambda s: scaled_dot_product_attention(
            Q, Q, Q, attn_mask=np.array([[0.0, np.nan, 0.0]] * 3, np.float32)
        ),
    ),
    Case(
        "mask-plus-inf",
        lambda s: scaled_dot_product_attention(
            Q, Q, Q, attn_mask=np.array([[0.0, 0.0, np.inf]] * 3, np.float32)
        ),
    ),
    Case(
        "mask-and-is-causal",
        lambda s: scaled_dot_product_attention(
            Q, Q, Q, attn_mask=np.ones((3, 3), bool), is_causal=True
        ),
    ),
    Case(
        "attention-mask-wrong-shape",
        lambda s: MultiHeadAttention(8, 2)(X, attn_mask=np.ones((2, 2), bool)),
    ),
    Case(
        "key-padding-mask-wrong-shape",
        lambda s: MultiHeadAttention(8, 2)(X, key_padding_mask=np.ones((1, 4), bool)),
    ),
    Case(
        "key-padding-mask-not-bool",
        lambda s: MultiHeadAttention(8, 2)(X, key_padding_mask=np.ones((1, 3), np.int64)),
    ),
    Case("attention-scale-nan", lambda s: scaled_dot_product_attention(Q, Q, Q, scale=np.nan)),
    # ---------------------------------------------------------------- loss targets
    Case("target-out-of-range", lambda s: cross_entropy(LOGITS, [0, 5])),
    Case("target-negative", lambda s: cross_entropy(LOGITS, [0, -1])),
    Case("target-float", lambda s: cross_entropy(LOGITS, [0.0, 1.0])),
    Case(
        "target-shape",
        lambda s: _gpt()(np.array([[1, 2]]), np.array([[1, 2, 3]])),
    ),
    # ------------------------------------------------------------------------ text
    Case("text-file-missing", lambda s: load_text(s.dir / "missing.txt")),
    Case("text-file-empty", lambda s: load_text(s.file("empty.txt", " \n"))),
    Case("text-file-not-utf8", lambda s: load_text(s.file("latin1.txt", "café".encode("latin-1")))),
    Case(
        "text-shorter-than-a-block",
        lambda s: get_batch(np.arange(5), 5, 2, np.random.default_rng(0)),
    ),
    Case(
        "train-text-empty",
        lambda s: _cli(
            "train",
            "--preset",
            "test",
            "--text",
            str(s.file("e.txt", "")),
            "--out",
            str(s.dir / "run"),
        ),
    ),
    Case(
        "train-text-too-short",
        lambda s: _cli(
            "train",
            "--preset",
            "test",
            "--text",
            str(s.file("short.txt", "a story")),
            "--out",
            str(s.dir / "run"),
        ),
    ),
    Case("text-not-str", lambda s: CharTokenizer("ab").encode(b"ab")),
    Case("text-lone-surrogate-bpe", lambda s: BPETokenizer([]).encode("a\ud800b")),
    Case(
        "prompt-unknown-characters",
        lambda s: _cli("generate", str(s.run_copy()), "--prompt", "Once upon a €"),
    ),
    Case(
        "prompt-not-utf8",
        lambda s: _cli("generate", str(_bpe_run(s)), "--prompt", "once \udcff"),
    ),
    # -------------------------------------------------------------- tokenizer files
    Case("tokenizer-file-missing", lambda s: Tokenizer.load(s.dir / "missing.json")),
    Case(
        "tokenizer-file-truncated",
        lambda s: Tokenizer.load(s.file("tokenizer.json", _tokenizer_file(s).read_text()[:40])),
    ),
    Case("tokenizer-file-not-utf8", lambda s: Tokenizer.load(s.file("t.json", b"\xff\xfe{"))),
    Case(
        "tokenizer-file-other-version",
        lambda s: Tokenizer.load(_tokenizer_file(s, lambda d: d.__setitem__("version", 3))),
    ),
    Case(
        "tokenizer-file-other-kind",
        lambda s: BPETokenizer.load(_tokenizer_file(s)),
    ),
    Case(
        "tokenizer-file-ids-not-contiguous",
        lambda s: Tokenizer.load(_tokenizer_file(s, lambda d: d["vocab"].__setitem__("c", 9))),
    ),
    Case(
        "tokenizer-file-nested-too-deeply",
        lambda s: Tokenizer.load(s.file("t.json", _nested(100_000))),
    ),
    Case("tokenizer-file-exponential-merges", lambda s: Tokenizer.load(_exponential_merges(s))),
    Case("tokenizer-file-pickle", _pickle_in_place_of_a_tokenizer),
    Case("run-tokenizer-missing", _in_run("tokenizer.json", Path.unlink, _load_model)),
    Case(
        "run-tokenizer-wrong-size",
        _in_run("tokenizer.json", lambda p: CharTokenizer("abc").save(p), _load_model),
    ),
    Case(
        "run-tokenizer-other-kind",
        _in_run("tokenizer.json", lambda p: BPETokenizer([]).save(p), _load_model),
    ),
    # ----------------------------------------------------------------- config.json
    Case("run-directory-missing", lambda s: rd.load_run(s.dir / "nowhere")),
    Case("config-missing", _in_run("config.json", Path.unlink, _load_model)),
    Case("config-truncated", _in_run("config.json", _truncate, _load_model)),
    Case("config-other-version", _in_run("config.json", _set("version", 2), _load_model)),
    Case("config-other-format", _in_run("config.json", _set("format", "hf"), _load_model)),
    Case(
        "config-unknown-tokenizer",
        _in_run("config.json", _set_in("train", "tokenizer", "word"), _load_model),
    ),
    Case(
        "config-tokenizer-disagrees",
        _in_run("config.json", _set("tokenizer", "bpe"), _load_model),
    ),
    Case(
        "config-nested-too-deeply",
        _in_run("config.json", lambda p: p.write_text(_nested(100_000)), _load_model),
    ),
    Case(
        "config-huge-integer",
        _in_run(
            "config.json", lambda p: p.write_text('{"version": ' + "9" * 5000 + "}"), _load_model
        ),
    ),
    Case(
        "config-unknown-model-argument",
        _in_run("config.json", _config_model("wings", 2), _load_model),
    ),
    Case(
        "config-bad-dropout", _in_run("config.json", _config_model("dropout", "0.1"), _load_model)
    ),
    Case(
        "config-declares-a-huge-model",
        _in_run("config.json", _config_model("vocab_size", 10**9), _load_model),
    ),
    # ------------------------------------------------------------ model.safetensors
    Case("weights-missing", _in_run("model.safetensors", Path.unlink, _load_model)),
    Case("weights-truncated", _in_run("model.safetensors", _truncate, _load_model)),
    Case("weights-pickle", _pickle_in_place_of_weights),
    Case("weights-header-declares-a-huge-tensor", _huge_tensor_in_place_of_weights),
    Case(
        "weights-shape-mismatch",
        _in_run(
            "model.safetensors",
            _rewrite_tensors(lambda t: t.__setitem__("ln_f.weight", np.ones(9, np.float32))),
            _load_model,
        ),
    ),
    Case(
        "weights-dtype-mismatch",
        _in_run(
            "model.safetensors",
            _rewrite_tensors(lambda t: t.__setitem__("ln_f.bias", t["ln_f.bias"].astype(float))),
            _load_model,
        ),
    ),
    Case(
        "weights-tensor-missing",
        _in_run("model.safetensors", _rewrite_tensors(lambda t: t.pop("ln_f.bias")), _load_model),
    ),
    Case(
        "weights-unexpected-tensor",
        _in_run(
            "model.safetensors",
            _rewrite_tensors(lambda t: t.__setitem__("extra", np.zeros(2, np.float32))),
            _load_model,
        ),
    ),
    # -------------------------------------------------------------------- resuming
    Case("resume-no-run-directory", lambda s: _resume(s.dir / "nowhere")),
    Case("resume-no-checkpoint", _in_run("trainer_state.json", Path.unlink, _resume)),
    Case(
        "resume-torn-checkpoint",
        _in_run(
            "model.safetensors",
            _rewrite_tensors(lambda t: t.__setitem__("ln_f.bias", t["ln_f.bias"] + 1)),
            _resume,
        ),
    ),
    Case(
        "resume-trainer-state-other-version",
        _in_run("trainer_state.json", _set("version", 0), _resume),
    ),
    Case("resume-trainer-state-bad-step", _in_run("trainer_state.json", _set("step", -4), _resume)),
    Case(
        "resume-trainer-state-bad-loss",
        _in_run("trainer_state.json", _set("loss_sum", "x"), _resume),
    ),
    Case(
        "resume-metrics-corrupt",
        _in_run("metrics.jsonl", lambda p: p.write_text('{"step": 3, "train'), _resume),
    ),
    Case(
        "resume-metrics-without-loss",
        _in_run("metrics.jsonl", lambda p: p.write_text('{"step": 3}\n'), _resume),
    ),
    Case(
        "resume-different-model",
        _in_run("config.json", _config_model("num_layers", 2), _resume),
    ),
    Case(
        "resume-different-options",
        lambda s: _resume(s.run_copy(), "--preset", "tiny"),
    ),
    Case(
        "resume-finished-run",
        lambda s: _cli("train", "--out", str(s.run_copy()), "--resume"),
    ),
    # ---------------------------------------------------------------- command line
    Case("option-steps-not-positive", lambda s: _cli("train", "--steps", "0")),
    Case("option-lr-not-finite", lambda s: _cli("train", "--lr", "nan")),
    Case("option-unknown-preset", lambda s: _cli("train", "--preset", "huge")),
    Case(
        "option-temperature-negative",
        lambda s: _cli("generate", str(s.run_copy()), "--prompt", "a", "--temperature", "-1"),
    ),
    Case(
        "option-top-k-too-large",
        lambda s: _cli("generate", str(s.run_copy()), "--prompt", "a", "--top-k", "1000"),
    ),
    Case("option-empty-prompt", lambda s: _cli("generate", str(s.run_copy()), "--prompt", "")),
    # ----------------------------------------------------- foreign tokenizer files
    Case("hf-tokenizer-missing", lambda s: BPETokenizer.from_pretrained(s.dir)),
    Case("hf-tokenizer-other-model", _load_edited_hf_tokenizer("model", "type", "WordPiece")),
    Case("hf-tokenizer-normalizer", _load_edited_hf_tokenizer("normalizer", {"type": "NFC"})),
    Case(
        "hf-tokenizer-add-prefix-space",
        _load_edited_hf_tokenizer("pre_tokenizer", {"type": "ByteLevel", "add_prefix_space": True}),
    ),
    Case(
        "hf-tokenizer-unknown-regex",
        _load_edited_hf_tokenizer(
            "pre_tokenizer", "pretokenizers", 0, "pattern", {"Regex": "[a-z]+"}
        ),
    ),
    Case("hf-tokenizer-corrupt-key", _load_edited_hf_tokenizer("model", "vocab", "a", "x")),
    Case("hf-tokenizer-huge-id", _load_edited_hf_tokenizer("added_tokens", 0, "id", 2**40)),
    Case(
        "hf-merges-bad-line",
        lambda s: BPETokenizer.from_pretrained(
            s.file("vocab.json", "{}") and s.file("merges.txt", "#version: 0.2\na\n")
        ),
    ),
    Case(
        "tiktoken-bad-line", lambda s: BPETokenizer.from_tiktoken(s.file("r.tiktoken", "YWI= x\n"))
    ),
    Case(
        "tiktoken-not-a-merge",
        lambda s: BPETokenizer.from_tiktoken(
            _rank_file(s, f"{base64.b64encode(b'abc').decode()} 256")
        ),
    ),
    Case("decode-id-gap", lambda s: BPETokenizer([], {"<pad>": 300}).decode([97, 299])),
    Case("save-pretrained-over-a-run", _save_pretrained_over_a_run),
    # ------------------------------------------------------------ n-gram baseline
    Case("ngram-ids-float", lambda s: NGramModel.fit(np.array([0.0, 1.0]), 4)),
    Case("ngram-id-out-of-range", lambda s: NGramModel.fit(np.array([0, 1, 4]), 4)),
    Case("ngram-ids-not-1d", lambda s: NGramModel.fit(np.zeros((2, 3), np.int64), 4)),
    Case("ngram-train-empty", lambda s: NGramModel.fit(np.array([], np.int64), 4)),
    Case("ngram-order-too-small", lambda s: NGramModel.fit(np.array([0, 1]), 4, order=0)),
    # ------------------------------------------------------------------ inspecting a run
    Case("inspect-prompt-empty", lambda s: inspect_run(s.run_copy(), "", echo=_quiet)),
    Case("inspect-prompt-too-long", lambda s: inspect_run(s.run_copy(), "a" * 17, echo=_quiet)),
    Case(
        "inspect-prompt-unknown-characters",
        lambda s: inspect_run(s.run_copy(), "Once \u20ac", echo=_quiet),
    ),
    Case(
        "inspect-text-gone-no-prompt",
        _in_run(
            "config.json",
            lambda p: _edit_json(p, lambda d: d["train"].__setitem__("text", f"{p.parent}.txt")),
            lambda run: inspect_run(run, echo=_quiet),
        ),
    ),
    # ------------------------------------------- run directories: ownership and the lock
    Case("out-empty", lambda s: _cli("train", "--preset", "test", "--out", "")),
    Case(
        "out-is-a-file",
        lambda s: _cli("train", "--preset", "test", "--out", str(s.file("f", "mine"))),
    ),
    Case(
        "out-holds-a-run", lambda s: _cli("train", "--preset", "test", "--out", str(s.run_copy()))
    ),
    Case("out-holds-foreign-files", _train_into_a_model_folder),
    Case("out-in-use", _a_second_writer),
    # ---------------------------------------------- resuming: everything read back is checked
    Case(
        "resume-optimizer-state-emptied",
        _in_run("trainer_state.json", _set_in("optimizer", "state", {}), _resume),
    ),
    Case(
        "resume-optimizer-hyperparameter-differs",
        _in_run("trainer_state.json", _set_group(1, "maximize", True), _resume),
    ),
    Case(
        "resume-rng-state-damaged",
        _in_run("trainer_state.json", _set_in("data_rng", "bit_generator", "MT19937"), _resume),
    ),
    Case(
        "resume-schedule-disagrees",
        _in_run("trainer_state.json", _set_in("schedule", "last_step", 2), _resume),
    ),
    Case(
        "resume-counters-disagree",
        _in_run("trainer_state.json", _set("loss_count", 7), _resume),
    ),
    Case(
        "resume-trainer-state-unknown-key", _in_run("trainer_state.json", _set("wings", 2), _resume)
    ),
    Case(
        "resume-integrity-record-damaged",
        _in_run("trainer_state.json", _set_in("sha256", "tokenizer.json", "ABC"), _resume),
    ),
    Case("resume-optimizer-array-shape", _vouched("optimizer.safetensors", _transpose_moment)),
    Case("resume-optimizer-array-stray", _vouched("optimizer.safetensors", _add_stray_tensor)),
    Case("resume-tokenizer-swapped", _in_run("tokenizer.json", _swap_a_character, _resume)),
    Case(
        "resume-metrics-lines-lost", _in_run("metrics.jsonl", lambda p: p.write_text(""), _resume)
    ),
    Case(
        "resume-metrics-bad-value",
        _in_run("metrics.jsonl", _append_line('{"step": 4, "train_loss": 1.0, "lr": -1}'), _resume),
    ),
    Case(
        "resume-metrics-step-order",
        _in_run("metrics.jsonl", _append_line('{"step": 2, "train_loss": 1.0}'), _resume),
    ),
    Case("resume-json-file-too-large", _in_run("trainer_state.json", _sparse_2_gib, _resume)),
    # ------------------------------------------------ weight files, sizes, numbers, shapes
    Case("weights-nan", _vouched("model.safetensors", _nan_in_a_weight, then=_load_model)),
    Case("weights-unknown-dtype", _in_run("model.safetensors", _float8_weights, _load_model)),
    Case("weights-header-not-json", _in_run("model.safetensors", _garbled_header, _load_model)),
    Case("weights-offsets-overlap", _in_run("model.safetensors", _overlapping, _load_model)),
    Case("train-does-not-fit", _on_a_16_gib_machine(_train_a_huge_batch)),
    Case("train-text-too-large", _on_a_16_gib_machine(_train_on_a_huge_text)),
    Case(
        "resume-does-not-fit",
        _on_a_16_gib_machine(
            _in_run("config.json", _set_in("train", "batch_size", 10**9), _resume)
        ),
    ),
    Case(
        "config-model-too-big-to-build",
        _on_a_16_gib_machine(
            _in_run(
                "config.json",
                _config_model_values(pos_encoding="sinusoidal", max_seq_len=10**10),
                _load_model,
            )
        ),
    ),
    Case("tokenizer-file-too-large", lambda s: Tokenizer.load(_sparse_2_gib(s.dir / "t.json"))),
    Case("ids-beyond-int64", lambda s: _gpt()([[1, 2**64]])),
    Case("matmul-shapes-do-not-fit", lambda s: Tensor(np.zeros((2, 3))) @ np.zeros((4, 5))),
    Case("torch-device-not-cpu", lambda s: tinytorch.zeros(2, device="cuda")),
    Case("torch-device-unknown", lambda s: tinytorch.device("gpu")),
    Case("torch-dtype-half", lambda s: tinytorch.ones(2).to(tinytorch.float16)),
    Case("torch-module-to-integer", lambda s: tinytorch.nn.Linear(2, 2).to(tinytorch.long)),
    Case("torch-write-parameter", lambda s: _write_parameter()),
    Case("torch-write-after-use", lambda s: _write_after_use()),
    Case("torch-write-graphless-view", lambda s: _write_into_graphless_view()),
    Case("torch-max-several-dims", lambda s: tinytorch.ones(2, 3).max(dim=(0, 1))),
    Case("torch-topk-too-large", lambda s: tinytorch.topk(tinytorch.ones(2, 3), 4)),
    Case("torch-softmax-without-dim", lambda s: tinytorch.nn.functional.softmax(tinytorch.ones(3))),
    Case(
        "torch-cross-entropy-weight",
        lambda s: tinytorch.nn.functional.cross_entropy(
            tinytorch.ones(2, 3), tinytorch.tensor([0, 1]), weight=tinytorch.ones(3)
        ),
    ),
    Case(
        "torch-cross-entropy-layout",
        lambda s: tinytorch.nn.functional.cross_entropy(
            tinytorch.ones(2, 3, 4), tinytorch.zeros(2, 3, dtype=tinytorch.long)
        ),
    ),
    Case(
        "torch-pad-mode",
        lambda s: tinytorch.nn.functional.pad(tinytorch.ones(2, 3), (1, 1), mode="reflect"),
    ),
    Case(
        "torch-multinomial-negative",
        lambda s: tinytorch.multinomial(tinytorch.tensor([0.5, -0.1]), 1),
    ),
    Case(
        "torch-multinomial-too-many",
        lambda s: tinytorch.multinomial(tinytorch.tensor([0.5, 0.0, 0.5]), 3),
    ),
    Case(
        "torch-optimizer-differentiable",
        lambda s: tinytorch.optim.AdamW([tinytorch.nn.Parameter(tinytorch.ones(1))],
                                        differentiable=True),
    ),
    Case("torch-module-dict-value", lambda s: tinytorch.nn.ModuleDict({"relu": 1})),
    # ----------------------------------------------- training length and evaluation
    Case("option-eval-tokens-negative", lambda s: _cli("train", "--eval-tokens", "-1")),
    Case("option-time-budget-not-positive", lambda s: _cli("train", "--time-budget", "0")),
    Case(
        "option-steps-with-time-budget",
        lambda s: _cli("train", "--steps", "5", "--time-budget", "1"),
    ),
    Case(
        "resume-finished-budget-run",
        _in_run(
            "config.json",
            lambda p: _edit_json(p, lambda c: c["train"].__setitem__("time_budget", 1.0)),
            lambda run: _cli("train", "--out", str(run), "--resume"),
        ),
    ),
    Case(
        "resume-trainer-state-bad-seconds",
        _in_run("trainer_state.json", _set("seconds", -1), _resume),
    ),
    # ------------------------------------------- Hugging Face GPT-2 directories, export
    Case("gpt2-model-type", _load_gpt2(config=lambda c: c.update(model_type="llama"))),
    Case(
        "gpt2-unsupported-option",
        _load_gpt2(config=lambda c: c.update(scale_attn_by_inverse_layer_idx=True)),
    ),
    Case("gpt2-dropouts-differ", _load_gpt2(config=lambda c: c.update(attn_pdrop=0.1))),
    Case("gpt2-only-a-pickle", _only_a_pickle),
    Case("gpt2-tensor-missing", _load_gpt2(tensors=lambda t: t.pop("transformer.ln_f.bias"))),
    Case(
        "gpt2-tensor-shape",
        _load_gpt2(tensors=lambda t: t.update({"transformer.ln_f.weight": np.ones(9, "f4")})),
    ),
    Case(
        "gpt2-tensor-not-finite",
        _load_gpt2(tensors=lambda t: t["transformer.h.0.mlp.c_fc.weight"].fill(np.inf)),
    ),
    Case(
        "gpt2-tensor-dtype",
        _load_gpt2(tensors=lambda t: t.update({"transformer.ln_f.bias": np.zeros(8, "f8")})),
    ),
    Case("gpt2-weights-truncated", _load_gpt2(truncate=True)),
    Case(
        "export-positions",
        lambda s: export_gpt2(
            GPT(vocab_size=10, embed_dim=8, num_layers=1, num_heads=2, pos_encoding="rope"),
            CharTokenizer.from_text("abcdef"),
            s.dir / "out",
        ),
    ),
    Case(
        "export-into-used-directory",
        lambda s: export_run(s.run_copy(), s.file("notes.txt", "mine").parent),
    ),
    Case(
        "init-from-other-shape",
        lambda s: _cli("train", "--out", str(s.dir / "new"), "--init-from", str(s.run_copy()),
                       "--embed-dim", "64"),
    ),
    Case(
        "init-from-other-vocab-size",
        lambda s: _cli("train", "--out", str(s.dir / "new"), "--init-from", str(s.run_copy()),
                       "--bpe-vocab-size", "1000"),
    ),
    Case(
        "option-bpe-vocab-size-without-bpe",
        lambda s: _cli("train", "--out", str(s.dir / "new"), "--preset", "test", "--tokenizer",
                       "char", "--bpe-vocab-size", "1000"),
    ),
    Case("reshape-size-not-integer", lambda s: Tensor(np.zeros((2, 5))).reshape(2, 2.5)),
]


def _quiet(line: str) -> None:
    """An echo for inspect_run that prints nothing."""


# ------------------------------------------------------------------- the documented table
TABLE_HEADER = "| Case | Bad input | Raised by | Error | Message |"


def _documented() -> dict[str, tuple[str, str]]:
    """id -> (error type, message) for every row of the case tables in docs/errors.md."""
    rows: dict[str, tuple[str, str]] = {}
    in_table = False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        in_table = line == TABLE_HEADER or (in_table and line.startswith("|"))
        if not in_table or not line.startswith("| `"):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        assert len(cells) == 5, f"a row needs 5 cells: {line}"
        case_id, error, message = cells[0].strip("`"), cells[3].strip("`"), cells[4]
        assert case_id not in rows, f"row {case_id!r} appears twice"
        assert message.startswith("`") and message.endswith("`"), f"{case_id}: message in `...`"
        rows[case_id] = (error, message[1:-1])
    return rows


DOCUMENTED = _documented()


def test_every_documented_row_has_a_case_and_every_case_a_row() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert sorted(set(DOCUMENTED) - set(ids)) == [], "rows of docs/errors.md without a case"
    assert sorted(set(ids) - set(DOCUMENTED)) == [], "cases missing from docs/errors.md"
    assert {error for error, _ in DOCUMENTED.values()} <= set(ERROR_TYPES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_raises_the_documented_error(
    case: Case,
    tmp_path: Path,
    run_copy: Callable[[], Path],
    pickle_bomb: Callable[..., Path],
    huge_tensor_safetensors: bytes,
) -> None:
    error_name, message = DOCUMENTED[case.id]
    scratch = Scratch(tmp_path, run_copy, pickle_bomb, huge_tensor_safetensors)
    with pytest.raises(Exception) as info:  # noqa: B017 -- the exact type is checked below
        case.trigger(scratch)
    raised = info.value
    assert type(raised).__name__ == error_name, f"{type(raised).__name__}: {raised}"
    assert type(raised) is ERROR_TYPES[error_name]
    actual = " ".join(str(raised).split()).replace(str(tmp_path), "<dir>")
    if isinstance(raised, OSError) and raised.filename is not None:  # like the CLI shows it
        actual = f"{raised.filename}: {raised.strerror}".replace(str(tmp_path), "<dir>")
    assert actual == message
    assert list(tmp_path.glob("pwned*")) == [], "a file's pickle payload ran"
