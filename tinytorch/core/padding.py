"""Constant padding of the trailing axes, with PyTorch's `F.pad` argument order.

`pad` lists (before, after) amounts starting from the LAST axis: `(1, 2)` pads the last axis
with one element in front and two behind, `(1, 1, 0, 3)` also pads the axis before it. Negative
amounts crop, as in PyTorch. Forward copies the input into a block of the fill value; backward
cuts the same block out of the gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinytorch.core.autograd import Function
from tinytorch.core.checks import is_int, is_number
from tinytorch.core.tensor import Tensor


class Pad(Function):
    def forward(
        self, a: np.ndarray, widths: tuple[tuple[int, int], ...], value: float
    ) -> np.ndarray:
        self.source, self.target, shape = [], [], []
        for n, (before, after) in zip(a.shape, widths, strict=True):
            shape.append(n + before + after)
            start, stop = max(0, -before), n - max(0, -after)
            self.source.append(slice(start, max(start, stop)))
            self.target.append(slice(max(0, before), max(0, before) + max(0, stop - start)))
        self.source, self.target = tuple(self.source), tuple(self.target)
        out = np.full(tuple(shape), value, dtype=a.dtype)
        out[self.target] = a[self.source]
        self.shape = a.shape
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        out = np.zeros(self.shape, dtype=grad.dtype)
        out[self.source] = grad[self.target]
        return out


def pad(x: Tensor, amounts: Sequence[int], mode: str = "constant", value: float | None = None
        ) -> Tensor:
    """PyTorch's `F.pad` for mode "constant" (the only mode here); `value` defaults to 0."""
    if mode != "constant":
        raise ValueError(f"pad mode {mode!r} is not supported (allowed: 'constant')")
    amounts = tuple(amounts)
    if len(amounts) % 2 or len(amounts) > 2 * x.ndim or not all(is_int(p) for p in amounts):
        raise ValueError(
            f"pad must be an even number of integers, at most 2 per axis ({2 * x.ndim} for shape "
            f"{x.shape}), got {amounts}"
        )
    if value is not None and not is_number(value):
        raise TypeError(f"pad value must be a number, got {value!r}")
    pairs = [(int(amounts[i]), int(amounts[i + 1])) for i in range(0, len(amounts), 2)]
    widths = [(0, 0)] * (x.ndim - len(pairs)) + pairs[::-1]
    for n, (before, after) in zip(x.shape, widths, strict=True):
        if n + before + after < 0:
            raise ValueError(f"pad {amounts} crops more than the input shape {x.shape} holds")
    return Pad.apply(x, widths=tuple(widths), value=0.0 if value is None else value)
