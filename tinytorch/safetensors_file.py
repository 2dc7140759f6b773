"""Reading a safetensors file header first, so a wrong or hostile file costs nothing to refuse.

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON describing each
tensor (dtype, shape, byte offsets into the data that follows), then the data. Reading the whole
file to learn that it is wrong would let a multi-gigabyte or sparse file, or a header declaring
a 4 TB tensor, allocate first. `read_safetensors` reads and checks the header alone, hands it to
the caller to compare with what it expects (names, shapes, dtypes), and only then reads the data.

Our own parser rather than the safetensors library's: it reads bfloat16, which NumPy has no
dtype for (converted exactly to float32: a bfloat16 is the top half of a float32), and it says
in our words which entry is wrong. Nothing in a safetensors file can execute code.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np

from tinytorch.checkpoint_error import shown

HEADER_LIMIT = 100 * 2**20  # the safetensors library's own limit on the JSON header
METADATA_KEY = "__metadata__"
# safetensors dtype name -> NumPy dtype (little-endian); BF16 is read as float32.
DTYPES: dict[str, np.dtype] = {
    name: np.dtype(code)
    for name, code in (
        ("BOOL", "?"), ("U8", "u1"), ("I8", "i1"), ("U16", "<u2"), ("I16", "<i2"),
        ("F16", "<f2"), ("BF16", "<u2"), ("U32", "<u4"), ("I32", "<i4"), ("F32", "<f4"),
        ("U64", "<u8"), ("I64", "<i8"), ("F64", "<f8"),
    )
}


class SafetensorsError(ValueError):
    """A file that is not a well-formed safetensors file; the message says what is wrong."""


@dataclass(frozen=True)
class TensorEntry:
    """One tensor as the header declares it; `begin`/`end` are offsets into the data."""

    dtype: str  # the safetensors name: "F32", "BF16", ...
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def numpy_dtype(self) -> np.dtype:
        """The dtype `read_safetensors` returns this tensor in (bfloat16 becomes float32)."""
        return np.dtype(np.float32) if self.dtype == "BF16" else DTYPES[self.dtype]


Header = dict[str, TensorEntry]


def read_safetensors(
    path: str | os.PathLike[str], check: Callable[[Header], None]
) -> tuple[dict[str, np.ndarray], str]:
    """The tensors of a safetensors file and the file's sha256.

    Reads and validates the header, calls `check(header)` (which raises to refuse the file
    before its data is read), then reads the data. Raises SafetensorsError for a malformed file
    and FileNotFoundError for a missing one.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        header, data_start = read_header(f)
        check(header)
        data = f.read(size - data_start)
        f.seek(0)
        digest = hashlib.sha256(f.read(data_start))
    if len(data) != size - data_start:
        raise SafetensorsError("the file changed while it was read")
    digest.update(data)
    tensors = {name: _array(entry, data) for name, entry in header.items()}
    return tensors, digest.hexdigest()


def read_header(f: BinaryIO) -> tuple[Header, int]:
    """The checked header of the safetensors file open in `f` (at its start), and the offset at
    which its data begins (the entries' offsets count from there)."""
    size = os.fstat(f.fileno()).st_size
    prefix = f.read(8)
    if len(prefix) < 8:
        raise SafetensorsError(f"{size} bytes is too short for a header (8 bytes or more)")
    (length,) = struct.unpack("<Q", prefix)
    if length > HEADER_LIMIT:
        raise SafetensorsError(f"a header of {length:,} bytes is over the {HEADER_LIMIT:,} allowed")
    if length > size - 8:
        raise SafetensorsError(
            f"the header length field says {length:,} bytes, but only {size - 8:,} follow it"
        )
    return parse_header(f.read(length), data_size=size - 8 - length), 8 + length


def parse_header(raw: bytes, data_size: int) -> Header:
    """The tensor entries of a header, checked against the `data_size` bytes that follow it:
    known dtypes, sizes that match the shapes, and offsets that tile the data exactly."""
    try:
        document = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except (ValueError, RecursionError) as e:  # also not UTF-8, and duplicate names
        raise SafetensorsError(f"the header is not valid JSON ({_one_line(e)})") from None
    if not isinstance(document, dict):
        raise SafetensorsError(f"the header must be a JSON object, got {type(document).__name__}")
    metadata = document.pop(METADATA_KEY, {})
    if not isinstance(metadata, dict) or not all(
        isinstance(v, str) for v in metadata.values()
    ):
        raise SafetensorsError(f"{METADATA_KEY} must map names to strings, got {metadata!r}")
    header = {name: _entry(name, fields) for name, fields in document.items()}
    covered = 0
    for name, entry in sorted(header.items(), key=lambda item: (item[1].begin, item[1].end)):
        if entry.begin != covered:
            problem = "overlap the tensor before" if entry.begin < covered else "leave a gap after"
            raise SafetensorsError(
                f"tensor {name!r}: data_offsets [{entry.begin}, {entry.end}] {problem} it (which "
                f"ends at byte {covered})"
            )
        covered = entry.end
    if covered != data_size:
        raise SafetensorsError(
            f"the tensors cover {covered:,} bytes of data, but the file holds {data_size:,}"
        )
    return header


def _entry(name: str, fields: Any) -> TensorEntry:
    if not isinstance(fields, dict) or set(fields) != {"dtype", "shape", "data_offsets"}:
        raise SafetensorsError(
            f"tensor {name!r}: must be an object with dtype, shape and data_offsets, got "
            f"{shown(fields)}"
        )
    dtype, shape, offsets = fields["dtype"], fields["shape"], fields["data_offsets"]
    if dtype not in DTYPES:
        raise SafetensorsError(
            f"tensor {name!r}: dtype {shown(dtype)} is not one tinytorch reads "
            f"({', '.join(DTYPES)})"
        )
    if not isinstance(shape, list) or not all(_is_count(n) for n in shape):
        raise SafetensorsError(
            f"tensor {name!r}: shape must be a list of integers >= 0, got {shown(shape)}"
        )
    if not (
        isinstance(offsets, list) and len(offsets) == 2 and all(_is_count(n) for n in offsets)
    ) or offsets[0] > offsets[1]:
        raise SafetensorsError(
            f"tensor {name!r}: data_offsets must be [begin, end] with 0 <= begin <= end, got "
            f"{shown(offsets)}"
        )
    nbytes = math.prod(shape) * DTYPES[dtype].itemsize
    if offsets[1] - offsets[0] != nbytes:
        raise SafetensorsError(
            f"tensor {name!r}: a {dtype} tensor of shape {tuple(shape)} takes {nbytes:,} bytes, "
            f"but its data_offsets span {offsets[1] - offsets[0]:,}"
        )
    return TensorEntry(dtype, tuple(shape), offsets[0], offsets[1])


def bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    """bfloat16 values (their 16 bits as uint16) as float32: they are a float32's upper half,
    so shifting them into place is exact."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _array(entry: TensorEntry, data: bytes) -> np.ndarray:
    """The tensor as a writable array of `entry.numpy_dtype` (bfloat16 widened exactly)."""
    stored = DTYPES[entry.dtype]
    flat = np.frombuffer(data, dtype=stored, count=math.prod(entry.shape), offset=entry.begin)
    if entry.dtype == "BF16":
        return bfloat16_to_float32(flat).reshape(entry.shape)
    return flat.astype(stored.newbyteorder("="), copy=True).reshape(entry.shape)


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"name {twice!r} appears twice")
    return result



def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
