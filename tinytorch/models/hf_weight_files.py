"""The weight files of a Hugging Face model directory, read one tensor at a time.

A directory holds its weights in `model.safetensors`, or split into shards that
`model.safetensors.index.json` lists (`{"weight_map": {tensor name: shard file}}`). Every
file's header is read first (`tinytorch/safetensors_file.py`), so every name, shape and dtype
can be checked before a single weight is read; each tensor is then read with plain file reads
straight into the array that keeps it, so loading a model holds one copy of the weights, not
two (reading a whole file, or memory-mapping it, would add the file to the process's memory).

`pytorch_model.bin` (and TensorFlow's and Flax's formats) are refused, never opened: a
PyTorch `.bin` is a pickle, and unpickling a file runs whatever code it names.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from tinytorch.files import read_json
from tinytorch.safetensors_file import (
    DTYPES,
    SafetensorsError,
    TensorEntry,
    bfloat16_to_float32,
    read_header,
)

WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
PICKLED_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json")
OTHER_FORMATS = ("tf_model.h5", "flax_model.msgpack")
JSON_LIMIT = 64 * 2**20  # config.json, the shard index: a few kB in practice
# The dtypes read as float32: float16 and bfloat16 widen to it exactly; float64 would round.
FLOAT_DTYPES = ("F32", "F16", "BF16")


class PretrainedError(ValueError):
    """A Hugging Face model directory that tinytorch cannot load; the message names the file
    and what is wrong with it."""


@dataclass(frozen=True)
class StoredTensor:
    entry: TensorEntry  # dtype, shape
    start: int  # byte offset in the file
    file: str


class WeightFiles:
    """Names, shapes and dtypes of a directory's tensors, and each tensor on demand.

    Use as a context manager: the files stay open until exit.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = os.fspath(directory)
        self._tensors: dict[str, StoredTensor] = {}
        self._handles: dict[str, BinaryIO] = {}

    def __enter__(self) -> WeightFiles:
        try:
            for name in self._file_names():
                self._read_header(name)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    # ------------------------------------------------------------------- the files
    def _file_names(self) -> list[str]:
        """The safetensors files holding the weights: one, or the shards of the index."""
        if os.path.isfile(self.path(WEIGHTS_FILE)):
            return [WEIGHTS_FILE]
        if os.path.isfile(self.path(INDEX_FILE)):
            return sorted(set(self._index().values()))
        present = [n for n in (*PICKLED_FILES, *OTHER_FORMATS) if os.path.isfile(self.path(n))]
        if any(name in PICKLED_FILES for name in present):
            raise PretrainedError(
                f"{self.path(present[0])}: a pickle, which tinytorch never loads (unpickling "
                "runs code); convert the directory to safetensors with transformers: "
                "GPT2LMHeadModel.from_pretrained(DIR).save_pretrained(DIR, "
                "safe_serialization=True)"
            )
        other = f" (it holds {', '.join(present)}, which tinytorch does not read)"
        raise PretrainedError(
            f"{self.directory}: no {WEIGHTS_FILE} or {INDEX_FILE}" + (other if present else "")
        )

    def _index(self) -> dict[str, str]:
        """The index's weight map, each shard a plain file name inside the directory."""
        path = self.path(INDEX_FILE)
        try:
            data = read_json(path, limit=JSON_LIMIT)
        except ValueError as e:
            raise PretrainedError(str(e)) from None
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise PretrainedError(f'{path}: no "weight_map" of tensor names to shard files')
        for tensor, shard in weight_map.items():
            if (
                not isinstance(shard, str)
                or os.path.basename(shard) != shard
                or not shard.endswith(".safetensors")
            ):
                raise PretrainedError(
                    f"{path}: tensor {tensor!r} is mapped to {shard!r}; shards must be "
                    ".safetensors files in the same directory"
                )
        return weight_map

    def _read_header(self, name: str) -> None:
        """Parse one file's header (`safetensors_file.read_header` checks that the entries tile
        the data exactly, so no read that follows can run past the end or be misshapen)."""
        path = self.path(name)
        if not os.path.isfile(path):
            raise PretrainedError(f"{path}: missing (listed in {INDEX_FILE})")
        handle = self._handles[name] = open(path, "rb")  # noqa: SIM115 -- closed by close()
        try:
            header, data_start = read_header(handle)
        except SafetensorsError as e:
            raise PretrainedError(f"{path}: not a valid safetensors file ({e})") from None
        for tensor, entry in header.items():
            if tensor in self._tensors:
                raise PretrainedError(
                    f"{path}: tensor {tensor!r} is also in {self._tensors[tensor].file}"
                )
            self._tensors[tensor] = StoredTensor(entry, data_start + entry.begin, name)

    # ----------------------------------------------------------------- the tensors
    def __iter__(self) -> Iterator[str]:
        return iter(self._tensors)

    def file_of(self, tensor: str) -> str:
        return self.path(self._tensors[tensor].file)

    def shape(self, tensor: str) -> tuple[int, ...]:
        return self._tensors[tensor].entry.shape

    def check_dtype(self, tensor: str) -> None:
        dtype = self._tensors[tensor].entry.dtype
        if dtype not in FLOAT_DTYPES:
            raise PretrainedError(
                f"{self.file_of(tensor)}: tensor {tensor!r} has dtype {dtype}; tinytorch reads "
                f"{', '.join(FLOAT_DTYPES)} (as float32)"
            )

    def read(self, tensor: str, out: np.ndarray | None = None) -> np.ndarray:
        """The tensor as float32, read into `out` if given (a C-contiguous float32 array of its
        shape: no temporary copy), refused if it holds NaN or infinite values."""
        stored = self._tensors[tensor]
        self.check_dtype(tensor)
        file_dtype = DTYPES[stored.entry.dtype]
        if out is not None and out.dtype == file_dtype and out.flags.c_contiguous:
            raw = out  # float32 on a little-endian machine: the file holds exactly out's bytes
        else:
            raw = np.empty(stored.entry.shape, file_dtype)
        handle = self._handles[stored.file]
        handle.seek(stored.start)
        if handle.readinto(memoryview(raw).cast("B")) != raw.nbytes:
            raise PretrainedError(f"{self.file_of(tensor)}: changed while it was read")
        if stored.entry.dtype == "BF16":
            raw = bfloat16_to_float32(raw)
        array = raw.astype(np.float32, copy=False)
        if out is not None and array is not out:
            out[...] = array
            array = out
        if not np.isfinite(array).all():
            raise PretrainedError(
                f"{self.file_of(tensor)}: tensor {tensor!r} holds NaN or infinite values"
            )
        return array
