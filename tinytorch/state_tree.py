"""A nested state (an optimizer's `state_dict()`) as JSON plus named arrays, and back, exactly.

JSON cannot hold arrays, NumPy scalars, tuples or int dict keys; safetensors holds only arrays.
`encode_tree` moves every array (and NumPy scalar) into a dict of named arrays, leaving a marker
in the JSON; `decode_tree` puts them back, so the state round-trips bit for bit: NumPy scalars
stay NumPy scalars (their dtype matters to later arithmetic), int keys stay ints, tuples tuples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


class TreeError(ValueError):
    """An encoded tree that refers to a missing array."""


def encode_tree(obj: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
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
        items = [encode_tree(v, f"{path}.{i}", arrays) for i, v in enumerate(obj)]
        return items if isinstance(obj, list) else {"__tuple__": items}
    if isinstance(obj, Mapping):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: encode_tree(v, f"{path}.{k}", arrays) for k, v in obj.items()}
        return {
            "__items__": [
                [encode_tree(k, f"{path}.{i}.key", arrays), encode_tree(v, f"{path}.{i}", arrays)]
                for i, (k, v) in enumerate(obj.items())
            ]
        }
    raise TypeError(f"cannot store a {type(obj).__name__} at {path!r} in a checkpoint")


def decode_tree(obj: Any, arrays: Mapping[str, np.ndarray], source: str) -> Any:
    """The state `encode_tree` encoded; `source` names the arrays' file in errors."""

    def take(name: Any) -> np.ndarray:
        if not isinstance(name, str) or name not in arrays:
            raise TreeError(f"{source}: tensor {name!r} is missing")
        return arrays[name]

    if isinstance(obj, list):
        return [decode_tree(v, arrays, source) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if obj.keys() == {"__array__"}:
        return take(obj["__array__"]).copy()
    if obj.keys() == {"__scalar__"}:
        return take(obj["__scalar__"])[()]
    if obj.keys() == {"__tuple__"}:
        return tuple(decode_tree(v, arrays, source) for v in obj["__tuple__"])
    if obj.keys() == {"__items__"}:
        return {
            decode_tree(k, arrays, source): decode_tree(v, arrays, source)
            for k, v in obj["__items__"]
        }
    return {k: decode_tree(v, arrays, source) for k, v in obj.items()}
