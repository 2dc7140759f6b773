"""PyTorch-style namespace for layers and losses: `from tinytorch import nn; nn.Linear(4, 2)`.

Everything here is defined in its own module (the import paths in docs/design.md); this file only
gathers the names a model definition needs, and the submodules PyTorch code imports:
`nn.functional` (PyTorch's signatures and layouts), `nn.init` and `nn.utils`. The names
`cross_entropy` and `scaled_dot_product_attention` here are tinytorch's own (class axis last;
`is_causal` before `dropout_p`); their PyTorch forms are in `nn.functional`.
"""

from tinytorch.core.attention import MultiHeadAttention, scaled_dot_product_attention
from tinytorch.core.containers import ModuleDict
from tinytorch.core.layers import (
    GELU,
    Dropout,
    LayerNorm,
    Linear,
    Module,
    ModuleList,
    Parameter,
    ReLU,
    Sequential,
)
from tinytorch.core.losses import CrossEntropyLoss, MSELoss, cross_entropy, mse_loss
from tinytorch.nn import functional, init, utils
from tinytorch.text.embeddings import (
    Embedding,
    EmbeddingLayer,
    PositionalEncoding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
)

__all__ = [
    "GELU",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "EmbeddingLayer",
    "LayerNorm",
    "Linear",
    "MSELoss",
    "Module",
    "ModuleDict",
    "ModuleList",
    "MultiHeadAttention",
    "Parameter",
    "PositionalEncoding",
    "ReLU",
    "RotaryEmbedding",
    "Sequential",
    "SinusoidalPositionalEncoding",
    "cross_entropy",
    "functional",
    "init",
    "mse_loss",
    "scaled_dot_product_attention",
    "utils",
]
