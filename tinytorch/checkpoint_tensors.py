"""Tensors read back from a run's safetensors files, checked against what they load into.

A weight or optimizer file is used only once its header matches what it is meant for: the same
tensor names and shapes, and a dtype that converts exactly (float16 and bfloat16 widen to
float32, as other tools save weights; nothing narrows). This is checked on the header, before
the data is read. The values must then be finite: a NaN in a weight would only surface much
later, as a NaN loss or as garbage text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from tinytorch.checkpoint_error import CheckpointError
from tinytorch.safetensors_file import Header, SafetensorsError, read_safetensors

# Stored dtypes that convert exactly to the dtype they are loaded as (bfloat16 is read as
# float32 already: see safetensors_file).
WIDENING = {np.dtype(np.float32): ("F16",)}


@dataclass(frozen=True)
class Expected:
    """What the tensors of one file must be: `arrays` maps each name to its (shape, dtype);
    `origin` names the file that implies them; `stray` says why an extra tensor is refused."""

    arrays: Mapping[str, tuple[tuple[int, ...], np.dtype]]
    origin: str
    stray: str


def read_checked_tensors(
    path: str | os.PathLike[str], expected: Expected
) -> tuple[dict[str, np.ndarray], str]:
    """The tensors of a safetensors file, each in its expected dtype, and the file's sha256.

    The header is checked against `expected` before any data is read; every value is checked
    to be finite. Raises CheckpointError naming the file and the tensor.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    try:
        tensors, sha = read_safetensors(path, _header_check(path, expected))
    except SafetensorsError as e:
        raise CheckpointError(f"{path}: not a valid safetensors file ({e})") from None
    converted = {}
    for name, value in tensors.items():
        _check_finite(path, name, value)
        converted[name] = value.astype(expected.arrays[name][1], copy=False)
    return converted, sha


def _header_check(path: str, expected: Expected) -> Callable[[Header], None]:
    def check(header: Header) -> None:
        for name in expected.arrays:
            if name not in header:
                raise CheckpointError(
                    f"{path}: tensor {name!r} is missing ({expected.origin} expects it)"
                )
        for name, entry in header.items():
            if name not in expected.arrays:
                raise CheckpointError(f"{path}: unexpected tensor {name!r} ({expected.stray})")
            shape, dtype = expected.arrays[name]
            if entry.shape != shape:
                raise CheckpointError(
                    f"{path}: tensor {name!r} has shape {entry.shape}, {expected.origin} "
                    f"implies {shape}"
                )
            if entry.numpy_dtype != dtype and entry.dtype not in WIDENING.get(dtype, ()):
                raise CheckpointError(
                    f"{path}: tensor {name!r} has dtype {entry.numpy_dtype}, expected {dtype}"
                )

    return check


def _check_finite(path: str, name: str, value: np.ndarray) -> None:
    if value.dtype.kind != "f" or np.isfinite(value).all():
        return
    index = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
    raise CheckpointError(
        f"{path}: tensor {name!r}: holds {value[index]} at index {index}; a checkpoint's "
        "values must be finite numbers"
    )
