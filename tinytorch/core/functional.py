"""Every differentiable tensor function in one namespace (what `Tensor`'s methods call).

Each function sits in the file of its kind, right under the `Function` that does its math and its
gradient: `casting.py` (dtype promotion), `arithmetic.py` (`+ - * / ** @`, `where`),
`elementwise.py` (exp, log, tanh, relu, gelu, ...), `reductions.py` (sum, mean, max, var,
softmax) and `shape_ops.py` (reshape, transpose, indexing, concatenate, stack, split). Fused ops
that replace a chain of these (linear, layer_norm, dropout, cross_entropy, embedding, scaled
dot-product attention) live beside the layer that uses them; see docs/design.md.
"""

from tinytorch.core.arithmetic import add, div, masked_fill, matmul, mul, pow, sub, where
from tinytorch.core.casting import cast
from tinytorch.core.elementwise import (
    abs,
    clip,
    exp,
    gelu,
    log,
    neg,
    relu,
    sigmoid,
    sqrt,
    tanh,
)
from tinytorch.core.reductions import log_softmax, max, mean, softmax, sum, var
from tinytorch.core.shape_ops import concatenate, getitem, reshape, split, stack, transpose

__all__ = [
    "abs",
    "add",
    "cast",
    "clip",
    "concatenate",
    "div",
    "exp",
    "gelu",
    "getitem",
    "log",
    "log_softmax",
    "masked_fill",
    "matmul",
    "max",
    "mean",
    "mul",
    "neg",
    "pow",
    "relu",
    "reshape",
    "sigmoid",
    "softmax",
    "split",
    "sqrt",
    "stack",
    "sub",
    "sum",
    "tanh",
    "transpose",
    "var",
    "where",
]
