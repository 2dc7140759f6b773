"""Module 11, embeddings: token ids become vectors, and vectors learn where they sit.

`Embedding` is a trainable (V, D) table looked up by token id (PyTorch's arguments and
semantics); `EmbeddingLayer` combines it with one of the position schemes of
`tinytorch/text/positions.py`. The schemes, the lookup op and the analysis helpers live in their
own files and are re-exported here, so `tinytorch.text.embeddings` is the one import path for all
of them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinytorch.core.checks import check_non_negative, check_positive
from tinytorch.core.layers import Dropout
from tinytorch.core.module import Module, Parameter
from tinytorch.core.random import default_generator
from tinytorch.core.tensor import Tensor
from tinytorch.text.lookup import check_renorm_args, embedding, normalize_padding_idx
from tinytorch.text.positions import (
    POSITION_ENCODINGS,
    ALiBi,
    PositionalEncoding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    alibi_bias,
    alibi_slopes,
    create_sinusoidal_embeddings,
    position_scheme,
)
from tinytorch.text.similarity import nearest_neighbors


def embedding_memory_bytes(vocab_size: int, embed_dim: int, dtype: Any = np.float32) -> int:
    """Bytes of a (vocab_size, embed_dim) table: why big vocabularies dominate small models."""
    check_positive(vocab_size=vocab_size, embed_dim=embed_dim)
    return int(vocab_size) * int(embed_dim) * np.dtype(dtype).itemsize


def _one_spelling(torch_name: str, torch_value: Any, course_name: str, course_value: Any) -> Any:
    """Accept PyTorch's or TinyTorch's name for a size, but exactly one of them."""
    if torch_value is not None and course_value is not None:
        raise TypeError(f"pass either {torch_name} or {course_name}, not both")
    if torch_value is None and course_value is None:
        raise TypeError(f"missing the table size: pass {torch_name} (or {course_name})")
    return torch_value if torch_value is not None else course_value


class Embedding(Module):
    """A lookup table of `num_embeddings` vectors of size `embedding_dim` (torch.nn.Embedding).

    `weight` is initialised N(0, 1) from tinytorch's generator; the `padding_idx` row starts at
    zero and never receives a gradient. See `embedding` for max_norm, scale_grad_by_freq and
    sparse. `Embedding(vocab_size=..., embed_dim=...)` is the TinyTorch spelling.
    """

    def __init__(
        self,
        num_embeddings: int | None = None,
        embedding_dim: int | None = None,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Any = None,
        *,
        vocab_size: int | None = None,
        embed_dim: int | None = None,
    ) -> None:
        super().__init__()
        rows = _one_spelling("num_embeddings", num_embeddings, "vocab_size", vocab_size)
        cols = _one_spelling("embedding_dim", embedding_dim, "embed_dim", embed_dim)
        check_positive(num_embeddings=rows, embedding_dim=cols)
        check_renorm_args(max_norm, norm_type)
        self.padding_idx = normalize_padding_idx(padding_idx, rows)
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = bool(scale_grad_by_freq), bool(sparse)
        if _weight is None:
            table = default_generator().standard_normal((rows, cols), dtype=np.float32)
            if self.padding_idx is not None:
                table[self.padding_idx] = 0.0
            self.weight = Parameter(table)
        else:
            weight = _weight if isinstance(_weight, Tensor) else Tensor(_weight)
            if weight.shape != (rows, cols):
                raise ValueError(f"_weight of shape {weight.shape} does not match ({rows}, {cols})")
            if weight.dtype.kind != "f":
                raise TypeError(f"an embedding table must be floating point, got {weight.dtype}")
            self.weight = Parameter(weight.data, dtype=weight.dtype)

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Any,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding around an existing (V, D) table; `freeze` stops it from training.

        As in PyTorch the table is used as given (its padding row is not zeroed), and an array
        shares memory with the new weight when it is already float32.
        """
        table = embeddings if isinstance(embeddings, Tensor) else Tensor(embeddings)
        if table.ndim != 2:
            raise ValueError(f"embeddings must be a 2-D (V, D) table, got shape {table.shape}")
        module = cls(
            *table.shape,
            padding_idx,
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
            _weight=table,
        )
        module.weight.requires_grad = not freeze
        return module

    @property
    def num_embeddings(self) -> int:
        return self.weight.shape[0]

    @property
    def embedding_dim(self) -> int:
        return self.weight.shape[1]

    vocab_size = num_embeddings
    embed_dim = embedding_dim

    def memory_bytes(self) -> int:
        """Bytes held by the table (V * D * itemsize), excluding gradients and optimizer state."""
        return self.weight.data.nbytes

    def forward(self, ids: Any) -> Tensor:
        """Rows for `ids` of any shape (Tensor, array or nested list): `ids.shape + (D,)`."""
        return embedding(
            ids,
            self.weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.sparse,
        )

    def extra_repr(self) -> str:
        extras = [f"{self.num_embeddings}, {self.embedding_dim}"]
        if self.padding_idx is not None:
            extras.append(f"padding_idx={self.padding_idx}")
        if self.max_norm is not None:
            extras.append(f"max_norm={self.max_norm}, norm_type={self.norm_type}")
        if self.scale_grad_by_freq:
            extras.append("scale_grad_by_freq=True")
        if self.sparse:
            extras.append("sparse=True")
        return ", ".join(extras)


class EmbeddingLayer(Module):
    """Token embedding plus positions: what sits under the first transformer block.

    `pos_encoding` names a scheme of `tinytorch.text.positions.POSITION_ENCODINGS`. A scheme with
    a table ("learned": trainable, GPT-2; "sinusoidal": fixed, Vaswani et al.) adds one vector per
    position here and limits sequences to `max_seq_len`; the others ("rope", "alibi" act inside
    attention; "none") add nothing here and have no length limit (`self.max_seq_len` is None).
    `scale_embeddings` multiplies token vectors by sqrt(embed_dim) (Vaswani et al.), and dropout
    is applied after positions are added, in train mode only.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        max_seq_len: int = 512,
        pos_encoding: str | None = "learned",
        scale_embeddings: bool = False,
        padding_idx: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_positive(max_seq_len=max_seq_len)
        scheme = position_scheme(pos_encoding)
        self.token_embedding = Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.pos_encoding = scheme.name
        self.position_encoding = scheme.build_table(max_seq_len, embed_dim)
        self.max_seq_len = int(max_seq_len) if scheme.limits_length else None
        self.scale = math.sqrt(embed_dim) if scale_embeddings else None
        self.dropout = Dropout(dropout)

    @property
    def vocab_size(self) -> int:
        return self.token_embedding.num_embeddings

    @property
    def embed_dim(self) -> int:
        return self.token_embedding.embedding_dim

    def forward(self, tokens: Any, offset: int = 0) -> Tensor:
        """(T,) or (B, T) token ids at positions offset.. -> (T, D) or (B, T, D) vectors."""
        ndim = tokens.ndim if isinstance(tokens, (Tensor, np.ndarray)) else np.ndim(tokens)
        if ndim not in (1, 2):
            raise ValueError(
                f"EmbeddingLayer expects tokens of shape (seq_len,) or (batch, seq_len), got "
                f"{ndim}-D input"
            )
        check_non_negative(offset=offset)
        x = self.token_embedding(tokens)
        if self.scale is not None:
            x = x * self.scale
        if self.position_encoding is not None:
            x = self.position_encoding(x, offset)
        return self.dropout(x)

    def extra_repr(self) -> str:
        return f"pos_encoding={self.pos_encoding!r}, max_seq_len={self.max_seq_len}"


__all__ = [
    "POSITION_ENCODINGS",
    "ALiBi",
    "Embedding",
    "EmbeddingLayer",
    "PositionalEncoding",
    "RotaryEmbedding",
    "SinusoidalPositionalEncoding",
    "alibi_bias",
    "alibi_slopes",
    "create_sinusoidal_embeddings",
    "embedding",
    "embedding_memory_bytes",
    "nearest_neighbors",
    "position_scheme",
]
