"""Positional encodings: every scheme, its name, and how a model is built with it.

Attention is permutation-invariant: without positions "dog bites man" and "man bites dog" look
the same. A scheme tells the model where each token sits, in one of two places:

- added to the token vectors under the first block, one vector per position from a table of
  `max_seq_len` rows (so sequences cannot be longer): "learned" (GPT-2) and "sinusoidal"
  (Vaswani et al. 2017);
- inside every attention layer, with no length limit: "rope" rotates queries and keys by their
  positions (Su et al. 2021), "alibi" adds a per-head distance penalty to the scores (Press et al.
  2022).

"none" uses no positions. `POSITION_ENCODINGS` maps each name to a `PositionScheme`; the embedding
layer builds a scheme's table and the GPT gives its attention layers the scheme's
`AttentionPositions`. Adding a scheme is one module in this file and one entry in that dict (see
docs/design.md, "Add a positional encoding").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tinytorch.core.attention import AttentionPositions
from tinytorch.core.autograd import Function
from tinytorch.core.checks import check_non_negative, check_positive
from tinytorch.core.module import Module, Parameter
from tinytorch.core.random import default_generator
from tinytorch.core.tensor import Tensor


# ---------------------------------------------------------------- tables added to tokens
def create_sinusoidal_embeddings(
    max_seq_len: int, embed_dim: int, base: float = 10000.0
) -> np.ndarray:
    """The sinusoidal table of Vaswani et al., float32 (max_seq_len, embed_dim), interleaved:

        PE[pos, 2i]   = sin(pos / base**(2i / embed_dim))
        PE[pos, 2i+1] = cos(pos / base**(2i / embed_dim))

    An odd embed_dim ends with a sin column. Angles are computed in float64 and cast once, so
    far positions keep full float32 accuracy.
    """
    check_positive(max_seq_len=max_seq_len, embed_dim=embed_dim)
    if not base > 0:
        raise ValueError(f"base must be positive, got {base!r}")
    even_dims = np.arange(0, embed_dim, 2, dtype=np.float64)
    angles = np.arange(max_seq_len, dtype=np.float64)[:, None] / base ** (even_dims / embed_dim)
    table = np.empty((max_seq_len, embed_dim), dtype=np.float64)
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : embed_dim // 2])
    return table.astype(np.float32)


def _add_positions(x: Tensor, table: Tensor, offset: int, name: str) -> Tensor:
    """x (..., T, D) plus table rows offset..offset+T-1, after checking shapes and length."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    max_seq_len, embed_dim = table.shape
    if x.ndim < 2 or x.shape[-1] != embed_dim:
        raise ValueError(
            f"{name}: input of shape {x.shape} does not match the table's embed_dim {embed_dim} "
            f"(expected shape (..., seq_len, {embed_dim}))"
        )
    seq_len = x.shape[-2]
    check_non_negative(offset=offset)
    if offset + seq_len > max_seq_len:
        raise ValueError(
            f"sequence end {offset + seq_len} (offset {offset} + length {seq_len}) exceeds "
            f"maximum sequence length {max_seq_len}"
        )
    return x + table[offset : offset + seq_len]


class PositionalEncoding(Module):
    """Learned absolute positions (GPT-2): a trainable (max_seq_len, embed_dim) table.

    Initialised N(0, 0.02) like GPT-2. `offset` places the input at positions offset..offset+T-1,
    for incremental decoding with a cache.
    """

    def __init__(self, max_seq_len: int, embed_dim: int) -> None:
        super().__init__()
        check_positive(max_seq_len=max_seq_len, embed_dim=embed_dim)
        self.max_seq_len, self.embed_dim = int(max_seq_len), int(embed_dim)
        table = default_generator().normal(0.0, 0.02, size=(max_seq_len, embed_dim))
        self.weight = Parameter(table.astype(np.float32))

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        return _add_positions(x, self.weight, offset, type(self).__name__)

    def extra_repr(self) -> str:
        return f"max_seq_len={self.max_seq_len}, embed_dim={self.embed_dim}"


class SinusoidalPositionalEncoding(Module):
    """Fixed sinusoidal positions: a non-persistent buffer, never trained nor saved.

    The table is a function of (max_seq_len, embed_dim, base), so a checkpoint need not carry it.
    """

    def __init__(self, max_seq_len: int, embed_dim: int, base: float = 10000.0) -> None:
        super().__init__()
        table = create_sinusoidal_embeddings(max_seq_len, embed_dim, base)
        self.max_seq_len, self.embed_dim, self.base = int(max_seq_len), int(embed_dim), base
        self.register_buffer("pe", table, persistent=False)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        return _add_positions(x, self.pe, offset, type(self).__name__)

    def extra_repr(self) -> str:
        return f"max_seq_len={self.max_seq_len}, embed_dim={self.embed_dim}, base={self.base}"


# ------------------------------------------------------------------------- RoPE
def _rotate_pairs(x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Rotate interleaved pairs (x[2i], x[2i+1]) by the angle whose cos/sin are given."""
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


class RotaryFunction(Function):
    """Rotation forward; its transpose (rotation by the negative angle) backward."""

    def forward(self, x: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
        self.cos, self.sin = cos, sin
        return _rotate_pairs(x, cos, sin)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return _rotate_pairs(grad, self.cos, -self.sin)


class RotaryEmbedding(AttentionPositions):
    """Rotary position embedding: rotates queries/keys (..., T, head_dim) to positions offset + t.

    A rotation preserves norms, and the dot product of a query rotated to position m with a key
    rotated to position n depends only on m - n: attention sees relative positions, and there is
    no table to outgrow. Layout (RoFormer paper, interleaved pairs): features (2i, 2i+1) form a
    pair rotated by `theta_i = pos * base**(-2i / head_dim)`:

        out[2i]   = x[2i] * cos(theta_i) - x[2i+1] * sin(theta_i)
        out[2i+1] = x[2i] * sin(theta_i) + x[2i+1] * cos(theta_i)

    HF/LLaMA's "rotate-half" layout pairs feature i with i + head_dim/2 instead; it is the same
    rotation on a permutation of the features (a checkpoint converts by permuting the q/k weight
    rows). No parameters and no maximum length: the cos/sin tables are cached per dtype and grown
    on demand, computed in float64 and cast once so float32 positions stay accurate far out.
    """

    def __init__(self, head_dim: int, base: float = 10000.0) -> None:
        super().__init__()
        check_positive(head_dim=head_dim)
        if head_dim % 2:
            raise ValueError(f"RotaryEmbedding needs an even head_dim (pairs), got {head_dim}")
        if not base > 0:
            raise ValueError(f"base must be positive, got {base!r}")
        self.head_dim, self.base = int(head_dim), float(base)
        self.inv_freq = self.base ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
        self._tables: dict[np.dtype, tuple[np.ndarray, np.ndarray]] = {}

    def _cos_sin(self, end: int, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
        """cos/sin of the angles for positions 0..end-1 (at least), shape (end, head_dim/2)."""
        cached = self._tables.get(dtype)
        if cached is None or cached[0].shape[0] < end:
            capacity = max(end, 2 * cached[0].shape[0] if cached else 0)
            angles = np.arange(capacity, dtype=np.float64)[:, None] * self.inv_freq
            cached = (np.cos(angles).astype(dtype), np.sin(angles).astype(dtype))
            self._tables[dtype] = cached
        return cached

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x)
        if x.dtype.kind != "f":
            raise TypeError(f"RotaryEmbedding needs floating-point input, got dtype {x.dtype}")
        if x.ndim < 2 or x.shape[-1] != self.head_dim:
            raise ValueError(
                f"RotaryEmbedding(head_dim={self.head_dim}) needs input of shape "
                f"(..., seq_len, {self.head_dim}), got {x.shape}"
            )
        check_non_negative(offset=offset)
        seq_len = x.shape[-2]
        cos, sin = self._cos_sin(offset + seq_len, x.dtype)
        return RotaryFunction.apply(
            x, cos=cos[offset : offset + seq_len], sin=sin[offset : offset + seq_len]
        )

    def rotate(self, x: Tensor, offset: int) -> Tensor:
        return self(x, offset)

    def extra_repr(self) -> str:
        return f"head_dim={self.head_dim}, base={self.base}"


# ------------------------------------------------------------------------ ALiBi
def _power_of_two_slopes(num_heads: int) -> list[float]:
    """The geometric sequence 2^(-8/n), 2^(-16/n), ..., 2^(-8) for n a power of two."""
    return [2.0 ** (-8.0 * k / num_heads) for k in range(1, num_heads + 1)]


def _slopes(num_heads: int) -> list[float]:
    """The paper's rule (`get_slopes` in the ALiBi repository), also for non-powers of two."""
    if math.log2(num_heads).is_integer():
        return _power_of_two_slopes(num_heads)
    # Take the slopes of the closest lower power of two m, then every other slope of 2m.
    lower = 2 ** math.floor(math.log2(num_heads))
    return _power_of_two_slopes(lower) + _slopes(2 * lower)[0::2][: num_heads - lower]


def alibi_slopes(num_heads: int) -> np.ndarray:
    """Per-head slopes, float32 of shape (num_heads,); 8 heads give 1/2, 1/4, ..., 1/256."""
    check_positive(num_heads=num_heads)
    return np.asarray(_slopes(int(num_heads)), dtype=np.float32)


def alibi_bias(num_heads: int, q_len: int, k_len: int, offset: int = 0) -> np.ndarray:
    """Additive attention bias, float32 (num_heads, q_len, k_len).

    `bias[h, i, j] = -slope_h * |j - (offset + i)|`: query i sits at absolute position
    `offset + i` (incremental decoding), keys at 0..k_len-1. Causal masking is the caller's job.
    """
    check_positive(num_heads=num_heads)
    check_non_negative(q_len=q_len, k_len=k_len, offset=offset)
    slopes = np.asarray(_slopes(int(num_heads)), dtype=np.float64)
    query_pos = np.arange(offset, offset + q_len, dtype=np.float64)[:, None]
    distance = np.abs(np.arange(k_len, dtype=np.float64)[None, :] - query_pos)
    return (-slopes[:, None, None] * distance).astype(np.float32)


class ALiBi(AttentionPositions):
    """ALiBi: head h adds `-slope_h * |key - query|` to its scores; nothing learned, no limit."""

    def __init__(self, num_heads: int) -> None:
        super().__init__()
        check_positive(num_heads=num_heads)
        self.num_heads = int(num_heads)

    def score_bias(self, q_len: int, k_len: int, offset: int) -> np.ndarray:
        return alibi_bias(self.num_heads, q_len, k_len, offset)

    def extra_repr(self) -> str:
        return f"num_heads={self.num_heads}"


# ---------------------------------------------------------------------- the schemes
@dataclass(frozen=True)
class PositionScheme:
    """Where one positional encoding acts, and how to build it.

    `table(max_seq_len, embed_dim)` builds a module adding one vector per position to the token
    vectors (it then limits sequences to `max_seq_len`); `trained_table` says its rows are
    parameters saved with the model. `attention(embed_dim, num_heads)` builds what every
    attention layer of a model applies (one shared, parameter-free module).
    """

    name: str
    table: Callable[[int, int], Module] | None = None
    trained_table: bool = False
    attention: Callable[[int, int], AttentionPositions] | None = None

    @property
    def limits_length(self) -> bool:
        return self.table is not None

    def build_table(self, max_seq_len: int, embed_dim: int) -> Module | None:
        return None if self.table is None else self.table(max_seq_len, embed_dim)

    def build_attention(self, embed_dim: int, num_heads: int) -> AttentionPositions | None:
        return None if self.attention is None else self.attention(embed_dim, num_heads)


def _rope(embed_dim: int, num_heads: int) -> RotaryEmbedding:
    head_dim = embed_dim // num_heads
    if head_dim % 2:
        raise ValueError(
            f"rope needs an even head_dim, got {head_dim} (embed_dim {embed_dim} / "
            f"num_heads {num_heads})"
        )
    return RotaryEmbedding(head_dim)


POSITION_ENCODINGS: dict[str, PositionScheme] = {
    "learned": PositionScheme("learned", table=PositionalEncoding, trained_table=True),
    "sinusoidal": PositionScheme("sinusoidal", table=SinusoidalPositionalEncoding),
    "rope": PositionScheme("rope", attention=_rope),
    "alibi": PositionScheme("alibi", attention=lambda embed_dim, num_heads: ALiBi(num_heads)),
    "none": PositionScheme("none"),
}


def position_scheme(name: str | None) -> PositionScheme:
    """The scheme called `name` (None is accepted for "none", as earlier versions wrote it)."""
    key = "none" if name is None else name
    if not isinstance(key, str) or key not in POSITION_ENCODINGS:
        raise ValueError(f"pos_encoding must be one of {list(POSITION_ENCODINGS)}, got {name!r}")
    return POSITION_ENCODINGS[key]
