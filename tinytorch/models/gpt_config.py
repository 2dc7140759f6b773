"""`GPTConfig`: every architectural choice of a GPT, with its default and its allowed values.

A `GPT` is built from one of these, a run directory saves it as config.json's "model", and
`tinytorch train` offers each field as a flag (`--embed-dim`, `--pos-encoding`, ...). The defaults
are a small model's shape (the `tiny` preset's, but for its block of 128).
"""

from __future__ import annotations

from dataclasses import dataclass

from tinytorch.settings import SettingError, Settings, setting
from tinytorch.text.positions import POSITION_ENCODINGS, position_scheme

ACTIVATIONS = ("gelu_tanh", "gelu", "relu")
# Below this many bytes of float32 parameters a saved model (a run's or a Hugging Face one) is
# built before its config's sizes are compared with its weight file: building is cheap, and the
# per-tensor checks then name what differs, which says more than a byte count.
SMALL_MODEL_BYTES = 64 * 2**20


@dataclass(frozen=True)
class GPTConfig(Settings):
    """The shape of a GPT. `vocab_size` None means "the tokenizer's", filled in once it exists."""

    vocab_size: int | None = setting(None, "vocabulary size (the tokenizer's)", low=1, flag=False)
    embed_dim: int = setting(128, "width of the residual stream", low=1, metavar="D")
    num_layers: int = setting(4, "transformer blocks", low=1, metavar="N")
    num_heads: int = setting(4, "attention heads per block (must divide --embed-dim)", low=1,
                             metavar="H")
    max_seq_len: int = setting(
        64,
        "context length in tokens: the training block size, and the longest sequence that "
        "learned or sinusoidal positions allow",
        low=1,
        metavar="T",
    )
    pos_encoding: str = setting(
        "learned", "positional encoding (see tinytorch/text/positions.py)",
        choices=POSITION_ENCODINGS,
    )
    dropout: float = setting(0.0, "dropout probability while training", low=0, high=1,
                             high_open=True, metavar="P")
    tie_weights: bool = setting(True, "the output head reuses the token embedding (GPT-2)")
    mlp_hidden_dim: int | None = setting(
        None, "hidden units of each block's MLP (default: 4 x --embed-dim)", low=1, metavar="N"
    )
    activation: str = setting("gelu_tanh", "the MLP's activation", choices=ACTIVATIONS)
    layer_norm_eps: float = setting(1e-5, "LayerNorm's epsilon", low=0, low_open=True,
                                    flag=False)

    def __post_init__(self) -> None:
        if self.pos_encoding is None:  # how runs before "none" existed wrote "no positions"
            object.__setattr__(self, "pos_encoding", "none")
        super().__post_init__()

    def check_together(self) -> None:
        if self.embed_dim % self.num_heads:
            raise SettingError(
                "num_heads", f"must divide embed_dim {self.embed_dim}, got {self.num_heads}"
            )
        try:  # e.g. rope needs an even head_dim
            position_scheme(self.pos_encoding).build_attention(self.embed_dim, self.num_heads)
        except ValueError as e:
            raise SettingError("pos_encoding", str(e)) from None

    @property
    def hidden_dim(self) -> int:
        return 4 * self.embed_dim if self.mlp_hidden_dim is None else self.mlp_hidden_dim

    def parameter_count(self) -> int:
        """Parameters of `GPT(self)` without building it (to refuse a config before allocating).

        Per block: two LayerNorms (4D), q/k/v/out projections with biases (4D^2 + 4D) and the MLP
        (2DH + H + D). A tied output head shares the token embedding's V*D.
        """
        vocab, dim, hidden = self.vocab_size or 0, self.embed_dim, self.hidden_dim
        per_block = 4 * dim * dim + 2 * dim * hidden + hidden + 9 * dim
        count = vocab * dim + self.num_layers * per_block + 2 * dim
        if position_scheme(self.pos_encoding).trained_table:
            count += self.max_seq_len * dim
        if not self.tie_weights:
            count += vocab * dim
        return count
