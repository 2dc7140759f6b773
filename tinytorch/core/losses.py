"""Loss functions: cross-entropy (fused, for classification and language models) and MSE.

`cross_entropy` puts the class axis LAST: logits of shape `(N, C)`, `(B, T, C)` or `(C,)` with
integer targets of shape `(N,)`, `(B, T)` or `()`. That is the layout a language model produces
(one row of vocabulary logits per position), so no transpose is needed; PyTorch instead expects
`(N, C, d1, ...)` for extra dimensions. Otherwise the arguments and results are PyTorch's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.autograd import Function
from tinytorch.core.checks import is_int
from tinytorch.core.errors import IndexOutOfRangeError
from tinytorch.core.functional import mean, mul, sub
from tinytorch.core.functional import sum as tensor_sum
from tinytorch.core.layers import Module
from tinytorch.core.tensor import Tensor, integer_array

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


# ------------------------------------------------------------------------- cross-entropy
class CrossEntropyFunction(Function):
    """Stable log-softmax + negative log-likelihood + label smoothing as one graph node.

    Per row with target t (eps = label_smoothing, C classes, shifted = logits - max):
        loss = (1 - eps) * (lse - shifted[t]) + eps * (lse - mean(shifted)),
        lse = log(sum(exp(shifted))),
    and its gradient is `softmax - ((1 - eps) * onehot(t) + eps / C)`, scaled by the upstream
    gradient (divided by the number of counted rows for `mean`; zero for ignored rows). Forward
    keeps only the softmax for backward; backward writes the one-hot part by fancy indexing
    instead of materialising a one-hot matrix.
    """

    def forward(
        self,
        logits: np.ndarray,
        target: np.ndarray,
        ignore_index: int,
        reduction: str,
        label_smoothing: float,
    ) -> np.ndarray:
        num_classes = logits.shape[-1]
        rows = logits.reshape(-1, num_classes)
        flat_target = target.reshape(-1)
        self.shape, self.reduction, self.smoothing = logits.shape, reduction, label_smoothing
        self.valid = np.flatnonzero(flat_target != ignore_index)
        self.valid_target = flat_target[self.valid]

        shifted = rows - rows.max(axis=1, keepdims=True)
        picked = shifted[self.valid, self.valid_target]
        mean_shifted = shifted.mean(axis=1) if label_smoothing else None
        probs = np.exp(shifted, out=shifted)  # reuse the buffer: shifted is no longer needed
        sum_exp = probs.sum(axis=1)
        probs /= sum_exp[:, None]
        self.probs = probs
        log_sum_exp = np.log(sum_exp)

        valid_log_sum_exp = log_sum_exp[self.valid]
        valid_losses = valid_log_sum_exp - picked
        if label_smoothing:
            uniform_loss = valid_log_sum_exp - mean_shifted[self.valid]
            valid_losses = (1.0 - label_smoothing) * valid_losses + label_smoothing * uniform_loss
        losses = np.zeros(rows.shape[0], dtype=logits.dtype)
        losses[self.valid] = valid_losses
        if reduction == "none":
            return losses.reshape(target.shape)
        total = losses.sum()
        if reduction == "sum":
            return np.asarray(total)
        with np.errstate(invalid="ignore"):  # every target ignored: nan, as in PyTorch
            return np.asarray(total / logits.dtype.type(self.valid.size))

    def backward(self, grad: np.ndarray) -> np.ndarray:
        scale = np.zeros(self.probs.shape[0], dtype=self.probs.dtype)  # per row; 0 if ignored
        if self.reduction == "none":
            scale[self.valid] = grad.reshape(-1)[self.valid]
        else:
            count = self.valid.size if self.reduction == "mean" else 1
            # Mean over zero counted rows has a zero gradient (nothing was counted), as in PyTorch.
            scale[self.valid] = grad.item() / count if count else 0.0
        grad_rows = self.probs * scale[:, None]
        if self.smoothing:
            grad_rows -= (self.smoothing / self.probs.shape[1]) * scale[:, None]
        grad_rows[self.valid, self.valid_target] -= (1.0 - self.smoothing) * scale[self.valid]
        return grad_rows.reshape(self.shape)


def _as_target(target: Any) -> np.ndarray:
    """Class ids as an integer array; floats and bools are rejected, never truncated."""
    return integer_array(
        target,
        "cross_entropy targets must be integer class ids, got dtype {dtype} "
        "(class-probability targets are not supported)",
    )


def _check_target_range(target: np.ndarray, num_classes: int, ignore_index: int) -> None:
    """Raise naming the first target outside `[0, num_classes)` that is not `ignore_index`."""
    bad = ((target < 0) | (target >= num_classes)) & (target != ignore_index)
    if not bad.any():
        return
    position = tuple(int(i) for i in np.argwhere(bad)[0])
    where = f" at position {position[0] if len(position) == 1 else position}" if position else ""
    raise IndexOutOfRangeError(
        f"target {target[position]}{where} is out of range for {num_classes} classes: allowed "
        f"[0, {num_classes}) or ignore_index={ignore_index}"
    )


def cross_entropy(
    input: Tensor,
    target: Any,
    *,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between logits (class axis last) and integer class ids.

    `input` is `(..., C)`, e.g. `(N, C)`, `(B, T, C)` or `(C,)`; `target` has shape
    `input.shape[:-1]` and values in `[0, C)` or equal to `ignore_index` (those positions add
    nothing and are not counted by `mean`; if every target is ignored, `mean` is nan like
    PyTorch). `label_smoothing` in [0, 1] mixes the one-hot target with the uniform distribution.
    """
    logits = input if isinstance(input, Tensor) else Tensor(input)
    if logits.dtype.kind != "f":
        raise TypeError(f"cross_entropy logits must be floating point, got dtype {logits.dtype}")
    if logits.ndim == 0 or logits.shape[-1] == 0:
        raise ValueError(
            f"cross_entropy logits need a class axis of size >= 1 last, got shape {logits.shape}"
        )
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    if not is_int(ignore_index):
        raise TypeError(f"ignore_index must be an int, got {ignore_index!r}")
    target_ids = _as_target(target)
    if target_ids.shape != logits.shape[:-1]:
        raise ValueError(
            f"cross_entropy target shape {target_ids.shape} does not match logits shape "
            f"{logits.shape}: expected target shape {logits.shape[:-1]} (class axis last)"
        )
    _check_target_range(target_ids, logits.shape[-1], ignore_index)
    return CrossEntropyFunction.apply(
        logits,
        target=target_ids.astype(np.int64, copy=False),
        ignore_index=int(ignore_index),
        reduction=reduction,
        label_smoothing=float(label_smoothing),
    )


class CrossEntropyLoss(Module):
    """Module form of `cross_entropy` (class axis last; see the module docstring)."""

    def __init__(
        self, *, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0
    ) -> None:
        super().__init__()
        _check_reduction(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        self.ignore_index, self.reduction = ignore_index, reduction
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return cross_entropy(
            input,
            target,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )

    def extra_repr(self) -> str:
        return (
            f"ignore_index={self.ignore_index}, reduction={self.reduction!r}, "
            f"label_smoothing={self.label_smoothing}"
        )


# ----------------------------------------------------------------------------------- MSE
def mse_loss(input: Tensor, target: Any, *, reduction: str = "mean") -> Tensor:
    """Mean squared error; `input` and `target` broadcast against each other like in PyTorch.

    Gradients flow to both operands. Floating operands of different dtypes are rejected rather
    than promoted (float32 must not silently become float64); integer targets are promoted to the
    input's dtype.
    """
    _check_reduction(reduction)
    input = input if isinstance(input, Tensor) else Tensor(input)
    target = target if isinstance(target, Tensor) else Tensor(target)
    if input.dtype.kind != "f":
        raise TypeError(f"mse_loss input must be floating point, got dtype {input.dtype}")
    if target.dtype.kind == "f" and target.dtype != input.dtype:
        raise TypeError(
            f"mse_loss input dtype {input.dtype} and target dtype {target.dtype} differ; "
            "cast one of them explicitly"
        )
    try:
        np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise ValueError(
            f"mse_loss input shape {input.shape} and target shape {target.shape} do not broadcast"
        ) from None
    difference = sub(input, target)
    squared = mul(difference, difference)
    if reduction == "none":
        return squared
    return mean(squared) if reduction == "mean" else tensor_sum(squared)


class MSELoss(Module):
    """Module form of `mse_loss`."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__()
        _check_reduction(reduction)
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return mse_loss(input, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
