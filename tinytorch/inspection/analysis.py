"""The numbers behind `tinytorch inspect`: what the front end of a GPT learned.

Everything here returns NumPy arrays or small dataclasses (no plotting), so each piece can be
used on its own in a notebook; `inspect_model` computes all of them for one model and prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.checks import check_positive
from tinytorch.inspection.positions import PositionSimilarity, position_similarity
from tinytorch.inspection.tokens import (
    TokenizationStats,
    TokenizedText,
    most_frequent_ids,
    tokenization_stats,
    tokenize,
    unknown_characters,
    vocabulary_labels,
)
from tinytorch.models.gpt_config import GPTConfig
from tinytorch.models.transformer import GPT
from tinytorch.text.embeddings import embedding_memory_bytes
from tinytorch.text.lookup import as_token_ids
from tinytorch.text.similarity import _table, nearest_neighbors_of_each
from tinytorch.text.tokenizer_base import Tokenizer


# ------------------------------------------------------------------------ the token table
def embedding_projection(
    weight: Any, n_components: int = 2, fit_rows: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """PCA of a (V, D) table (array, Tensor or Embedding): (coords (V, n), variance ratios (n,)).

    The mean row is subtracted, then X = U S Vt (SVD in float64) and coords = X Vt[:n]^T =
    U[:, :n] S[:n]. Sign convention: each principal axis Vt[k] is flipped so that its entry of
    largest magnitude (the first one, on ties) is positive; an SVD alone fixes axes only up to
    sign, and this keeps the picture the same across runs and machines. The ratios
    S[k]^2 / sum(S^2) are the shares of the table's variance along each axis: in [0, 1] and
    sorted, largest first (all 0 when every row is the same). Both are float32.

    `fit_rows` (ids, or a bool mask of length V) fits the mean and the axes on those rows only
    and projects every row onto them: rows a text never uses (special tokens, say) only decay
    during training and would otherwise claim the first axis for "used or not".
    """
    table = _table(weight).astype(np.float64)
    fit = table if fit_rows is None else table[np.asarray(fit_rows)]
    check_positive(n_components=n_components)
    if n_components > min(fit.shape):
        raise ValueError(
            f"n_components={n_components} exceeds the {min(fit.shape)} axes of the "
            f"{fit.shape[0]} x {fit.shape[1]} rows it is fitted on"
        )
    mean = fit.mean(axis=0)
    _, singular, axes = np.linalg.svd(fit - mean, full_matrices=False)
    axes = axes[:n_components]
    largest = axes[np.arange(n_components), np.abs(axes).argmax(axis=1)]
    axes *= np.where(largest < 0, -1.0, 1.0)[:, None]
    variance = singular**2
    total = variance.sum()
    ratio = variance[:n_components] / total if total > 0 else np.zeros(n_components)
    return ((table - mean) @ axes.T).astype(np.float32), ratio.astype(np.float32)


@dataclass(frozen=True)
class Neighbours:
    """For each of `query_ids` (n,): its k most cosine-similar other tokens `ids` (n, k) and the
    `similarities` (n, k), most similar first (ties by lower id)."""

    query_ids: np.ndarray
    ids: np.ndarray
    similarities: np.ndarray


def neighbour_table(weight: Any, query_ids: Any, k: int = 5) -> Neighbours:
    """`nearest_neighbors` of several tokens of a (V, D) table, as one table."""
    queries = np.asarray(query_ids, dtype=np.int64).reshape(-1)
    found = nearest_neighbors_of_each(weight, queries.tolist(), k)
    return Neighbours(
        query_ids=queries,
        ids=np.array([ids for ids, _ in found], dtype=np.int64).reshape(len(queries), k),
        similarities=np.array([s for _, s in found], dtype=np.float32).reshape(len(queries), k),
    )


@dataclass(frozen=True)
class EmbeddingMemory:
    """What the token embedding table costs, alone and while training with AdamW.

    `model_parameters` counts every parameter once: with a tied output head (`tied_head`) the
    head IS the table, so the table's share includes the head and nothing is counted twice.
    """

    vocab_size: int
    embed_dim: int
    dtype: str
    table_bytes: int  # V * D * itemsize
    gradient_bytes: int  # a dense gradient, the table's shape
    adamw_state_bytes: int  # AdamW's exp_avg and exp_avg_sq, each the table's shape
    table_parameters: int
    model_parameters: int
    tied_head: bool

    @property
    def training_bytes(self) -> int:
        """Table + gradient + AdamW state: what training holds for the table."""
        return self.table_bytes + self.gradient_bytes + self.adamw_state_bytes

    @property
    def parameter_share(self) -> float:
        return self.table_parameters / self.model_parameters


def embedding_memory(model: GPT) -> EmbeddingMemory:
    weight = model.embedding.token_embedding.weight
    vocab_size, embed_dim = weight.shape
    table_bytes = embedding_memory_bytes(vocab_size, embed_dim, weight.dtype)
    return EmbeddingMemory(
        vocab_size=vocab_size,
        embed_dim=embed_dim,
        dtype=str(weight.dtype),
        table_bytes=table_bytes,
        gradient_bytes=table_bytes,
        adamw_state_bytes=2 * table_bytes,
        table_parameters=weight.numel(),
        model_parameters=model.num_parameters(),  # a tied weight is one parameter
        tied_head=model.lm_head.weight is weight,
    )


# ------------------------------------------------------------------------------ attention
@no_grad()
def attention_maps(model: GPT, ids: Any) -> np.ndarray:
    """Attention weights of every layer and head for one prompt: float32 (layers, heads, T, T).

    Runs the model's own modules in eval mode (restored afterwards) without a graph. Each block
    feeds its attention what `TransformerBlock.forward` does (`ln_1` of the residual stream,
    causal) and asks for the weights; the block itself then advances the stream.
    Row t holds what token t attends to: it sums to 1 and is exactly 0 after column t.
    """
    ids = as_token_ids(ids, model.config.vocab_size)
    if ids.ndim != 1 or ids.size == 0:
        raise ValueError(f"ids must be one non-empty prompt of shape (T,), got shape {ids.shape}")
    was_training = model.training
    model.eval()
    try:
        x = model.embedding(ids[None])
        maps = []
        for block in model.blocks:
            _, weights = block.attn(block.ln_1(x), is_causal=True, need_weights=True)
            maps.append(weights.data[0])
            x = block(x)
    finally:
        model.train(was_training)
    return np.stack(maps)


# ---------------------------------------------------------------------------- everything
@dataclass(frozen=True)
class Inspection:
    """Every number `tinytorch inspect` shows, for one model, prompt and text.

    `labels[i]` is the readable label of id i; `stats` describe `stats_source` (the training
    text when one was given, else the prompt); the neighbour queries are its most frequent
    non-special tokens. With a training text, the projection's axes are fitted on the tokens
    that occur in it (`projection_fitted_on_used`).
    """

    model_config: GPTConfig
    tokenizer_name: str
    labels: list[str]
    projection: np.ndarray
    explained_variance_ratio: np.ndarray
    projection_fitted_on_used: bool
    neighbours: Neighbours
    positions: PositionSimilarity
    prompt: TokenizedText
    attention: np.ndarray
    stats: TokenizationStats
    stats_source: str
    memory: EmbeddingMemory


def check_prompt(model: GPT, tokenizer: Tokenizer, prompt: str) -> TokenizedText:
    """The prompt's tokens, or a ValueError naming what is wrong with it and what is allowed."""
    if prompt == "":
        raise ValueError("prompt is empty: give at least one character to look at")
    tokens = tokenize(tokenizer, prompt)  # a TypeError for anything but a str
    unk = tokenizer.unk_id
    if unk is not None and (tokens.ids == unk).any():
        unknown = unknown_characters(tokenizer, prompt)
        raise ValueError(
            f"prompt {prompt!r} contains characters this model never saw: {''.join(unknown)!r} "
            f"(its vocabulary has {tokenizer.vocab_size} tokens); use characters of its "
            "training text"
        )
    limit = model.max_seq_len
    if limit is not None and tokens.ids.size > limit:
        raise ValueError(
            f"prompt of {tokens.ids.size} tokens is longer than this model's "
            f"{model.config.pos_encoding} position table: give at most {limit} tokens"
        )
    return tokens


def inspect_model(
    model: GPT,
    tokenizer: Tokenizer,
    prompt: str,
    text: str | None = None,
    num_queries: int = 8,
    k: int = 5,
) -> Inspection:
    """Compute everything for `model`: tables from `text` (e.g. the training text), attention
    maps and tokens from `prompt` (checked by `check_prompt`)."""
    tokens = check_prompt(model, tokenizer, prompt)
    stats = tokenization_stats(tokenizer, prompt if text is None else text)
    weight = model.embedding.token_embedding.weight
    queries = most_frequent_ids(stats.counts, num_queries, set(tokenizer.special_tokens.values()))
    used = stats.counts > 0
    fit_rows = used if text is not None and used.sum() > 2 else None
    coords, ratio = embedding_projection(weight, fit_rows=fit_rows)
    return Inspection(
        model_config=model.config,
        tokenizer_name=type(tokenizer).__name__,
        labels=vocabulary_labels(tokenizer),
        projection=coords,
        explained_variance_ratio=ratio,
        projection_fitted_on_used=fit_rows is not None,
        neighbours=neighbour_table(weight, queries, min(k, weight.shape[0] - 1)),
        positions=position_similarity(model),
        prompt=tokens,
        attention=attention_maps(model, tokens.ids),
        stats=stats,
        stats_source="prompt" if text is None else "training text",
        memory=embedding_memory(model),
    )
