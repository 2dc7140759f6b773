"""Gradient clipping: scale all gradients together when their joint norm is too large."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from tinytorch.core.checks import is_number
from tinytorch.core.sparse import RowSparseGrad
from tinytorch.core.tensor import Tensor


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scale all gradients together so their joint `norm_type`-norm is at most `max_norm`.

    PyTorch semantics: the total norm is the norm of the per-tensor norms (`inf`: the largest
    absolute entry), gradients are multiplied by `min(1, max_norm / (total + 1e-6))`, and the
    total norm before clipping is returned (as a float). Each `.grad` is replaced by a new
    scaled array (or `RowSparseGrad`) rather than scaled in place, since gradients may alias
    other arrays.
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"norm_type must be positive or inf, got {norm_type}")
    if not is_number(max_norm) or not max_norm >= 0:
        raise ValueError(f"max_norm must be a non-negative number, got {max_norm!r}")
    with_grad = [p for p in params if p.grad is not None]
    if not with_grad:
        return 0.0
    norms = []
    for p in with_grad:
        values = p.grad.values if isinstance(p.grad, RowSparseGrad) else p.grad
        norms.append(_vector_norm(values.ravel(), norm_type))
    total = _vector_norm(np.asarray(norms, dtype=np.float64), norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is {total}, so they cannot "
            "be clipped; set error_if_nonfinite=False to scale them anyway"
        )
    coefficient = float(max_norm) / (total + 1e-6)
    if coefficient < 1.0:
        with np.errstate(invalid="ignore"):  # inf * 0 for a non-finite norm gives nan, like torch
            for p in with_grad:
                p.grad = p.grad * coefficient
    return total


def _vector_norm(values: np.ndarray, norm_type: float) -> float:
    if values.size == 0:
        return 0.0
    if norm_type == math.inf:
        return float(np.abs(values).max())
    if norm_type == 2.0:
        return float(np.sqrt(np.dot(values, values)))
    return float(np.sum(np.abs(values) ** norm_type) ** (1.0 / norm_type))
