"""What a model knows about positions, as matrices over pairs of positions (i, j).

Read through what every scheme of `tinytorch.text.positions` provides, never through a scheme's
internals, so a new scheme is shown without a change here:

- a table (learned, sinusoidal): the cosine between the vectors added at positions i and j,
  read by running the model's own table module on zeros;
- a rotation of queries and keys inside attention (`AttentionPositions.rotate`, RoPE): the
  expected cosine between one random vector rotated to position i and to position j;
- a bias on the attention scores (`AttentionPositions.score_bias`, ALiBi): the bias of each head.

Next to it stands the reference: the cosines of a sinusoidal table of the same size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinytorch.core.attention import AttentionPositions
from tinytorch.core.autograd import no_grad
from tinytorch.core.checks import check_positive
from tinytorch.core.tensor import Tensor
from tinytorch.models.transformer import GPT
from tinytorch.text.positions import create_sinusoidal_embeddings, position_scheme
from tinytorch.text.similarity import unit_rows


@dataclass(frozen=True)
class PositionSimilarity:
    """The model's own position structure next to the sinusoidal reference of the same size.

    `kind` says what `own` is: "table" and "rotation" give (T, T) cosines, "score bias" gives
    (heads, T, T) additive attention biases, and None (no positions) gives no matrix.
    `reference`: (T, T) cosines between the rows of `create_sinusoidal_embeddings(T, embed_dim)`.
    `description` says in one sentence what `own` shows (the figures print it).
    """

    scheme: str
    kind: str | None
    own: np.ndarray | None
    reference: np.ndarray
    description: str

    @property
    def has_table(self) -> bool:
        return self.kind == "table"


def cosine_similarity_matrix(rows: np.ndarray) -> np.ndarray:
    """(N, N) float32 cosines between the rows of an (N, D) array; a zero row gives 0, not NaN."""
    unit = unit_rows(rows)
    return np.clip(unit @ unit.T, -1.0, 1.0).astype(np.float32)


def table_rows(model: GPT, length: int) -> np.ndarray:
    """The vectors a table scheme adds at positions 0..length-1: its module applied to zeros."""
    zeros = np.zeros((length, model.config.embed_dim), dtype=np.float32)
    with no_grad():
        return model.embedding.position_encoding(Tensor(zeros)).data


def rotation_similarity(positions: AttentionPositions, head_dim: int, length: int) -> np.ndarray:
    """E[cos(R_i x, R_j x)] over random directions x, where R_t is `positions.rotate` at t.

    For rotations, cos(R_i x, R_j x) = x^T R_i^T R_j x / |x|^2, and its expectation over an
    isotropic x is trace(R_i^T R_j) / head_dim: the mean over the basis vectors e_b of the cosine
    between e_b rotated to i and to j. So each basis vector (as one "head") is rotated to every
    position by the scheme itself; the result is exact, with no sampling noise. For RoPE it is
    mean_k cos((i - j) theta_k), the cosine of a sinusoidal table with RoPE's frequencies.
    """
    basis = np.broadcast_to(np.eye(head_dim)[:, None, :], (head_dim, length, head_dim))
    with no_grad():
        rotated = positions.rotate(Tensor(basis[None], dtype=np.float64), 0).data[0]
    unit = rotated / np.linalg.norm(rotated, axis=-1, keepdims=True)
    similarity = np.einsum("bid,bjd->ij", unit, unit) / head_dim
    return np.clip(similarity, -1.0, 1.0).astype(np.float32)


def _rotates(positions: AttentionPositions) -> bool:
    return type(positions).rotate is not AttentionPositions.rotate


def position_similarity(model: GPT, length: int | None = None) -> PositionSimilarity:
    """Position structure over the first `length` positions (default: the model's max_seq_len).

    A scheme both rotating and biasing (none does so yet) is shown by its rotation.
    """
    config = model.config
    length = config.max_seq_len if length is None else length
    check_positive(length=length)
    scheme = position_scheme(config.pos_encoding)
    positions = model.blocks[0].attn.positions  # one module serves every block
    name = scheme.name
    if scheme.limits_length:
        if length > config.max_seq_len:
            raise ValueError(
                f"length {length} exceeds the model's {name} position table of "
                f"{config.max_seq_len} rows"
            )
        kind, own = "table", cosine_similarity_matrix(table_rows(model, length))
        description = f"{name} table: cosine between the vectors added at positions i and j"
    elif positions is not None and _rotates(positions):
        kind = "rotation"
        own = rotation_similarity(positions, model.blocks[0].attn.head_dim, length)
        description = (
            f"{name} has no position table: it rotates queries and keys. Shown: expected "
            "cosine between a random vector rotated to position i and to position j"
        )
    elif positions is not None and (bias := positions.score_bias(length, length, 0)) is not None:
        kind, own = "score bias", np.broadcast_to(bias, (config.num_heads, length, length))
        description = (
            f"{name} has no position table: each head adds a bias b(i, j) to its attention "
            "scores, which scales the weight of key j by exp(b)"
        )
    else:
        kind, own = None, None
        description = (
            "This model uses no positions: no table and nothing in attention; only the causal "
            "mask tells tokens apart by order"
        )
    reference = create_sinusoidal_embeddings(length, config.embed_dim)
    return PositionSimilarity(name, kind, own, cosine_similarity_matrix(reference), description)
