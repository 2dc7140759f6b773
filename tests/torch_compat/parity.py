"""Comparing a tinytorch result with PyTorch's: same values, dtype and shape."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import tinytorch


def dtype_name(dtype: Any) -> str:
    """'float32', 'int64', 'bool', ... for a torch or a tinytorch dtype."""
    return str(dtype).removeprefix("torch.")


def as_array(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    if isinstance(x, tinytorch.Tensor):
        return x.numpy()
    return np.asarray(x)


def assert_same(ours: Any, theirs: Any, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Tensors (or nested tuples/lists of them, numbers, strings) with equal shapes, dtypes and
    values."""
    if isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            assert_same(a, b, rtol, atol)
        return
    if isinstance(theirs, str):
        assert ours == theirs
        return
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, tinytorch.Tensor), type(ours)
        assert tuple(ours.shape) == tuple(theirs.shape)
        assert dtype_name(ours.dtype) == dtype_name(theirs.dtype)
    np.testing.assert_allclose(as_array(ours), as_array(theirs), rtol=rtol, atol=atol)
