"""PyTorch-style namespace for layers and losses: `from tinytorch import nn; nn.Linear(4, 2)`.

Everything here is defined in its own module (the import paths in docs/design.md); this file only
gathers the names a model definition needs.
"""

from tinytorch.core.attention import MultiHeadAttention, scaled_dot_product_attention
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
    "ModuleList",
    "MultiHeadAttention",
    "Parameter",
    "PositionalEncoding",
    "ReLU",
    "RotaryEmbedding",
    "Sequential",
    "SinusoidalPositionalEncoding",
    "cross_entropy",
    "mse_loss",
    "scaled_dot_product_attention",
]
