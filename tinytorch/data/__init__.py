"""Training data: the built-in story corpus, user text files, and batching of token ids."""

from tinytorch.data.batching import get_batch, sequential_batches
from tinytorch.data.corpus import Corpus, generate_corpus, log2_prob_of
from tinytorch.data.text_file import load_text

__all__ = [
    "Corpus",
    "generate_corpus",
    "get_batch",
    "load_text",
    "log2_prob_of",
    "sequential_batches",
]
