"""See inside a trained GPT: token embeddings, positions, attention, tokenization, memory.

`analysis`, `positions` and `tokens` compute plain NumPy arrays and small dataclasses (usable in
a notebook); `figures` draws them; `report.inspect_run` does both for a run directory, which is
what `tinytorch inspect` calls.
"""

from tinytorch.inspection.analysis import (
    EmbeddingMemory,
    Inspection,
    Neighbours,
    attention_maps,
    check_prompt,
    embedding_memory,
    embedding_projection,
    inspect_model,
    neighbour_table,
)
from tinytorch.inspection.positions import (
    PositionSimilarity,
    cosine_similarity_matrix,
    position_similarity,
)
from tinytorch.inspection.report import inspect_run
from tinytorch.inspection.tokens import (
    TokenizationStats,
    TokenizedText,
    token_label,
    tokenization_stats,
    tokenize,
    vocabulary_labels,
)

__all__ = [
    "EmbeddingMemory",
    "Inspection",
    "Neighbours",
    "PositionSimilarity",
    "TokenizationStats",
    "TokenizedText",
    "attention_maps",
    "check_prompt",
    "cosine_similarity_matrix",
    "embedding_memory",
    "embedding_projection",
    "inspect_model",
    "inspect_run",
    "neighbour_table",
    "position_similarity",
    "token_label",
    "tokenization_stats",
    "tokenize",
    "vocabulary_labels",
]
