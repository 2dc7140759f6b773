"""`torch.nn.functional` with PyTorch's signatures, on tinytorch's fused kernels.

`from tinytorch.nn import functional as F` gives code written against PyTorch the functions it
calls, with PyTorch's argument names, order and layouts: `layer_norm` is `LayerNormFunction`,
`linear` is `LinearFunction`, `softmax` the one softmax op, `scaled_dot_product_attention` the
fused attention, `embedding` the fused lookup, `cross_entropy` the fused loss. The one layout
that differs inside tinytorch is cross-entropy's: PyTorch puts classes on axis 1 (`(N, C)` or
`(N, C, d1, ...)`), `tinytorch.core.losses.cross_entropy` puts them last; `cross_entropy` here
takes PyTorch's layout and moves the class axis last (free for `(N, C)`, one transposed copy for
`(N, C, d1, ...)`).

`inplace=True` writes the result into the input through `Tensor.__setitem__`, so it follows
PyTorch's autograd rules for in-place ops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinytorch.core import functional as ops
from tinytorch.core.attention import scaled_dot_product_attention as _attention
from tinytorch.core.checks import is_int
from tinytorch.core.layers import LayerNormFunction
from tinytorch.core.layers import dropout as _dropout
from tinytorch.core.layers import linear as _linear
from tinytorch.core.losses import cross_entropy as _cross_entropy
from tinytorch.core.losses import mse_loss as _mse_loss
from tinytorch.core.padding import pad
from tinytorch.core.tensor import Tensor, as_tensor
from tinytorch.text.lookup import embedding  # PyTorch's signature already

__all__ = [
    "cross_entropy",
    "dropout",
    "embedding",
    "gelu",
    "layer_norm",
    "linear",
    "log_softmax",
    "mse_loss",
    "one_hot",
    "pad",
    "relu",
    "scaled_dot_product_attention",
    "sigmoid",
    "silu",
    "softmax",
    "tanh",
]



def _in_place(input: Tensor, result: Tensor, inplace: bool) -> Tensor:
    """The result, or (inplace=True) the input overwritten with it (PyTorch's in-place rules)."""
    if not inplace or result is input:  # nothing changed (e.g. dropout in eval): no write
        return result
    input[...] = result
    return input


def _no_legacy_reduction(size_average: Any, reduce: Any) -> None:
    if size_average is not None or reduce is not None:
        raise TypeError("size_average and reduce are deprecated in PyTorch: use reduction=")


# --------------------------------------------------------------------------- layers
def linear(input: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias, weight of shape (out_features, in_features)."""
    return _linear(as_tensor(input), weight, bias)


def layer_norm(
    input: Any,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the trailing `normalized_shape` axes, then scale and shift (fused kernel)."""
    x = as_tensor(input)
    shape = (normalized_shape,) if is_int(normalized_shape) else tuple(normalized_shape)
    if x.shape[x.ndim - len(shape) :] != shape or len(shape) > x.ndim:
        raise ValueError(
            f"layer_norm: input shape {x.shape} does not end with normalized_shape {shape}"
        )
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != shape:
            raise ValueError(f"layer_norm: {name} of shape {p.shape} must have shape {shape}")
    if weight is None and bias is not None:  # the kernel takes a bias only after a weight
        weight = Tensor._wrap(np.ones(shape, dtype=x.dtype))
    params = [p for p in (weight, bias) if p is not None]
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    return LayerNormFunction.apply(x, *params, axes=axes, eps=float(eps))


def dropout(input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero elements with probability p and scale the rest by 1/(1-p) when `training`."""
    x = as_tensor(input)
    return _in_place(x, _dropout(x, p, training), inplace)


# ---------------------------------------------------------------------- activations
def relu(input: Any, inplace: bool = False) -> Tensor:
    x = as_tensor(input)
    return _in_place(x, ops.relu(x), inplace)


def gelu(input: Any, approximate: str = "none") -> Tensor:
    """GELU, exact or with `approximate="tanh"` (GPT-2's)."""
    return ops.gelu(as_tensor(input), approximate)


def silu(input: Any, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    x = as_tensor(input)
    return _in_place(x, x * ops.sigmoid(x), inplace)


def tanh(input: Any) -> Tensor:
    return ops.tanh(as_tensor(input))


def sigmoid(input: Any) -> Tensor:
    return ops.sigmoid(as_tensor(input))


def _softmax_input(input: Any, dim: int | None, dtype: Any, name: str) -> Tensor:
    if dim is None:
        raise TypeError(f"{name}() needs dim= (PyTorch's implicit choice of dim is deprecated)")
    x = as_tensor(input)
    return x if dtype is None else x.to(dtype)


def softmax(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
            ) -> Tensor:
    """exp(x) / sum(exp(x)) along `dim` (computed stably); `dtype` casts the input first."""
    return ops.softmax(_softmax_input(input, dim, dtype, "softmax"), dim)


def log_softmax(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None
                ) -> Tensor:
    return ops.log_softmax(_softmax_input(input, dim, dtype, "log_softmax"), dim)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """int64 one-hot rows for integer class ids; `num_classes=-1` means max id + 1."""
    ids = as_tensor(tensor)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"one_hot needs integer class ids, got dtype {ids.dtype}")
    if ids.numel() and ids.data.min() < 0:
        raise ValueError(f"one_hot class ids must be >= 0, got {ids.data.min()}")
    if num_classes == -1:
        num_classes = int(ids.data.max()) + 1 if ids.numel() else 0
    if ids.numel() and ids.data.max() >= num_classes:
        raise ValueError(f"one_hot class id {ids.data.max()} >= num_classes {num_classes}")
    out = np.zeros((*ids.shape, num_classes), dtype=np.int64)
    np.put_along_axis(out, ids.data[..., None].astype(np.int64), 1, axis=-1)
    return Tensor._wrap(out)


# ------------------------------------------------------------------------- attention
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(q k^T * scale + mask) v, PyTorch's argument order; a bool mask's True = may attend.

    Unlike PyTorch, a query row with nothing to attend to gives zeros instead of NaN.
    """
    if enable_gqa:
        raise ValueError("enable_gqa=True is not supported: repeat the key/value heads instead")
    return _attention(query, key, value, attn_mask, is_causal, dropout_p, scale)


# ---------------------------------------------------------------------------- losses
def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy of logits `(N, C)`, `(C,)` or `(N, C, d1, ...)` (classes on axis 1, as in
    PyTorch) and integer class ids of shape `(N,)`, `()` or `(N, d1, ...)`.

    Per-class `weight` and class-probability targets are not supported.
    """
    _no_legacy_reduction(size_average, reduce)
    if weight is not None:
        raise ValueError("cross_entropy: per-class weight= is not supported (allowed: None)")
    logits = as_tensor(input)
    if logits.ndim > 2:
        target_shape = np.shape(target.data if isinstance(target, Tensor) else target)
        expected = logits.shape[:1] + logits.shape[2:]
        if target_shape != expected and target_shape != logits.shape:
            raise ValueError(
                f"cross_entropy target shape {target_shape} does not match input shape "
                f"{logits.shape}: expected {expected} (PyTorch layout, classes on axis 1)"
            )
        logits = logits.permute(0, *range(2, logits.ndim), 1)
    return _cross_entropy(
        logits,
        target,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )


def mse_loss(
    input: Any,
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Mean (or summed, or per-element) squared error; input and target broadcast."""
    _no_legacy_reduction(size_average, reduce)
    return _mse_loss(input, target, reduction=reduction)

