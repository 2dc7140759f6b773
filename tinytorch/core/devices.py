"""Devices as PyTorch names them; tinytorch computes on the CPU only.

`tinytorch.device("cuda")` can be built (code often builds it before asking whether CUDA exists),
but putting a tensor or a module on any device other than the CPU raises one ValueError that says
how to take the model to PyTorch instead. `to_arguments` reads the arguments of PyTorch's
`Tensor.to` / `Module.to` (a device, a dtype, a tensor, or keywords) in one place.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.checks import is_int
from tinytorch.core.dtypes import resolve_dtype

DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "meta")


class device:
    """A device type and optional index, parsed like `torch.device` ("cuda:1" or ("cuda", 1))."""

    __slots__ = ("type", "index")

    def __init__(self, type: str | device, index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index
        if not isinstance(type, str):
            raise TypeError(f"device must be a string like 'cpu', got {type!r}")
        name, _, number = type.partition(":")
        if number:
            if index is not None or not number.isdigit():
                raise ValueError(f"invalid device string {type!r}")
            index = int(number)
        if name not in DEVICE_TYPES:
            raise ValueError(f"unknown device type {name!r} (allowed: {', '.join(DEVICE_TYPES)})")
        if index is not None and (not is_int(index) or index < 0):
            raise ValueError(f"device index must be a non-negative integer, got {index!r}")
        self.type, self.index = name, index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def check_device(value: Any) -> device:
    """`value` as a device if it is the CPU (None means the CPU); anything else raises."""
    if value is None:
        return CPU
    parsed = device("cuda", value) if is_int(value) else device(value)
    if parsed.type != "cpu":
        raise ValueError(
            f"tinytorch runs on the CPU only, got device '{parsed}' (allowed: 'cpu'); to use a "
            "GPU, move the model to PyTorch: 'tinytorch export RUN_DIR OUT_DIR' writes a "
            "Hugging Face directory, and a state_dict() loads into the same model code run "
            "with import torch"
        )
    return parsed


def _is_device(value: Any) -> bool:
    return isinstance(value, (str, device)) or is_int(value)


def to_arguments(args: tuple, kwargs: dict[str, Any]) -> tuple[np.dtype | None, bool]:
    """(dtype or None, copy) from the arguments of PyTorch's `.to(...)`; any device but the CPU
    raises. Accepted: `to(device)`, `to(dtype)`, `to(device, dtype)`, `to(tensor)` (its dtype)
    and the keywords `device`, `dtype`, `copy`, `non_blocking` (no meaning on the CPU) and
    `memory_format` (NumPy decides the layout)."""
    unknown = set(kwargs) - {"device", "dtype", "copy", "non_blocking", "memory_format"}
    if unknown:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(unknown)}")
    dtype = kwargs.get("dtype")
    check_device(kwargs.get("device"))
    if len(args) > 2:
        raise TypeError(f"to() takes at most 2 positional arguments, got {len(args)}")
    for arg in args:
        if _is_device(arg):
            check_device(arg)
        elif hasattr(arg, "dtype") and not isinstance(arg, (type, np.dtype)):  # a tensor
            dtype = arg.dtype
        else:
            dtype = arg
    return (None if dtype is None else resolve_dtype(dtype)), bool(kwargs.get("copy", False))
