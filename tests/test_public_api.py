"""The import paths in docs/design.md are a contract with users and course material: pin them."""

import importlib

import pytest

import tinytorch

CONTRACT = {
    "tinytorch.core.tensor": ["Tensor"],
    "tinytorch.core.autograd": ["no_grad", "Function", "backward"],
    "tinytorch.core.layers": [
        "Module", "Parameter", "Linear", "LayerNorm", "Dropout", "Sequential", "ReLU", "GELU",
    ],
    "tinytorch.core.losses": ["CrossEntropyLoss", "MSELoss", "cross_entropy", "mse_loss"],
    "tinytorch.core.optimizers": ["SGD", "Adam", "AdamW", "clip_grad_norm_",
                                  "WarmupCosineSchedule"],
    "tinytorch.text.tokenization": ["CharTokenizer", "BPETokenizer"],
    "tinytorch.text.embeddings": [
        "Embedding", "PositionalEncoding", "SinusoidalPositionalEncoding",
        "create_sinusoidal_embeddings", "RotaryEmbedding", "alibi_slopes", "EmbeddingLayer",
    ],
    "tinytorch.core.attention": ["scaled_dot_product_attention", "MultiHeadAttention"],
    "tinytorch.models.transformer": ["TransformerBlock", "GPT"],
}


@pytest.mark.parametrize("module_path", sorted(CONTRACT))
def test_design_import_paths(module_path: str) -> None:
    module = importlib.import_module(module_path)
    missing = [name for name in CONTRACT[module_path] if not hasattr(module, name)]
    assert missing == []


def test_root_conveniences_are_the_same_objects() -> None:
    from tinytorch.core.layers import Linear
    from tinytorch.core.optimizers import AdamW
    from tinytorch.core.tensor import Tensor
    from tinytorch.text.embeddings import Embedding

    assert tinytorch.Tensor is Tensor
    assert tinytorch.nn.Linear is Linear and tinytorch.nn.Embedding is Embedding
    assert tinytorch.optim.AdamW is AdamW
    with tinytorch.no_grad():
        out = tinytorch.nn.Linear(2, 1)(tinytorch.Tensor([[1.0, 2.0]]))
    assert not out.requires_grad
