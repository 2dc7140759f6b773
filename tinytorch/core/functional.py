"""Every differentiable tensor function in one namespace (what `Tensor`'s methods call).

Each function sits in the file of its kind, right under the `Function` that does its math and its
gradient: `casting.py` (dtype promotion), `arithmetic.py` (`+ - * / ** @`, `where`),
`elementwise.py` (exp, log, tanh, relu, gelu, ...), `reductions.py` (sum, mean, max, var,
softmax), `shape_ops.py` (reshape, transpose, indexing, concatenate, stack, split),
`selection.py` (gather, topk, max/min with indices, tril/triu), `padding.py` (pad) and
`assignment.py` (item assignment and the in-place fills, with PyTorch's autograd rules). Fused ops
that replace a chain of these (linear, layer_norm, dropout, cross_entropy, embedding, scaled
dot-product attention) live beside the layer that uses them; see docs/design.md.
"""

from tinytorch.core.arithmetic import add, div, masked_fill, matmul, mul, pow, sub, where
from tinytorch.core.assignment import clone, copy_, fill_, normal_, setitem_, uniform_, zero_
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
from tinytorch.core.padding import pad
from tinytorch.core.reductions import log_softmax, max, mean, softmax, sum, var
from tinytorch.core.selection import (
    argmax,
    argmin,
    gather,
    max_with_indices,
    min_with_indices,
    topk,
    tril,
    triu,
)
from tinytorch.core.shape_ops import concatenate, getitem, reshape, split, stack, transpose

__all__ = [
    "abs",
    "add",
    "argmax",
    "argmin",
    "cast",
    "clip",
    "clone",
    "concatenate",
    "copy_",
    "div",
    "exp",
    "fill_",
    "gather",
    "gelu",
    "getitem",
    "log",
    "log_softmax",
    "masked_fill",
    "matmul",
    "max",
    "max_with_indices",
    "mean",
    "min_with_indices",
    "mul",
    "neg",
    "normal_",
    "pad",
    "pow",
    "relu",
    "reshape",
    "setitem_",
    "sigmoid",
    "softmax",
    "split",
    "sqrt",
    "stack",
    "sub",
    "sum",
    "tanh",
    "topk",
    "transpose",
    "tril",
    "triu",
    "uniform_",
    "var",
    "where",
    "zero_",
]
