"""The README's priority tests (P0-P2) that guard failure modes beyond the integration suite.

Each test is named as in the roadmap of this directory's README; the end-to-end test trains a
tokenizer -> embedding -> attention -> linear model with Adam on a task only attention can solve.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.layers import Linear, Module
from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.random import manual_seed
from tinytorch.core.tensor import Tensor
from tinytorch.text.embeddings import Embedding, EmbeddingLayer
from tinytorch.text.tokenization import CharTokenizer


def test_embedding_index_out_of_bounds() -> None:
    """A tokenizer whose vocabulary outgrew the embedding table fails loudly, changing nothing."""
    tokenizer = CharTokenizer.from_text("abcdefghij")  # 4 specials + 10 characters = 14 ids
    table = Embedding(12, 4, max_norm=1.0)  # built for an older, smaller vocabulary
    before = table.weight.data.copy()
    ids = np.array(tokenizer.encode("abcj"))  # 'j' has id 13
    with pytest.raises(IndexError, match="out of range") as caught:
        table(ids)
    assert isinstance(caught.value, ValueError)
    assert "13" in str(caught.value) and "(3,)" in str(caught.value)
    # max_norm renormalises looked-up rows in place, but only after the ids were validated.
    np.testing.assert_array_equal(table.weight.data, before)
    # The ids that do fit still work, and the renorm happens then.
    assert np.all(np.linalg.norm(table(ids[:3]).data, axis=-1) <= 1.0 + 1e-6)


def test_variable_sequence_length_handling() -> None:
    """A padded batch gives each sequence exactly the output it gets alone, unpadded."""
    manual_seed(5)
    tokenizer = CharTokenizer.from_text("the quick brown fox jumps over a lazy dog")
    texts = ["the fox", "a lazy brown dog jumps", "ox"]
    batch = tokenizer.encode_batch(texts)
    layer = EmbeddingLayer(tokenizer.vocab_size, 16, max_seq_len=32, padding_idx=tokenizer.pad_id)
    attention = MultiHeadAttention(16, num_heads=2)
    padded = attention(layer(batch.ids), key_padding_mask=batch.attention_mask, is_causal=True)
    for row, text in enumerate(texts):
        alone = attention(layer(np.array([tokenizer.encode(text)])), is_causal=True)
        length = int(batch.lengths[row])
        assert length == len(text)
        np.testing.assert_allclose(padded.data[row, :length], alone.data[0], rtol=1e-5,
                                   atol=1e-6)


def test_sinusoidal_vs_learned_positional() -> None:
    """Both schemes tell positions apart; only the sinusoid's geometry is fixed by construction."""
    manual_seed(6)
    same_token = np.full((1, 12), 4)
    for scheme in ("learned", "sinusoidal"):
        layer = EmbeddingLayer(10, 8, max_seq_len=12, pos_encoding=scheme)
        vectors = layer(same_token).data[0]
        # The same token at 12 positions gives 12 different vectors.
        assert len({row.tobytes() for row in vectors}) == 12
    table = EmbeddingLayer(10, 8, max_seq_len=64, pos_encoding="sinusoidal").position_encoding
    pe = table.pe.data.astype(np.float64)
    assert np.abs(pe).max() <= 1.0
    # Relative geometry: the similarity of two positions depends only on their distance.
    np.testing.assert_allclose(pe[3] @ pe[10], pe[40] @ pe[47], rtol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(pe, axis=1), np.sqrt(4.0), rtol=1e-5)


def test_embedding_training_updates() -> None:
    """A bigram model (embedding -> linear) trained with SGD learns the text's transitions."""
    manual_seed(7)
    text = "abcabcabcabd" * 20
    tokenizer = CharTokenizer.from_text(text + "xyz")  # x, y, z never occur in training
    ids = np.array(tokenizer.encode(text))
    embedding, head = Embedding(tokenizer.vocab_size, 8), Linear(8, tokenizer.vocab_size)
    params = [embedding.weight, head.weight, head.bias]
    optimizer = SGD(params, lr=0.5)
    unseen = [tokenizer.encode(c)[0] for c in "xyz"]
    unseen_before = embedding.weight.data[unseen].copy()
    losses = []
    for _ in range(60):
        optimizer.zero_grad()
        loss = cross_entropy(head(embedding(ids[:-1])), ids[1:])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    # Rows of characters that never appear received no gradient and did not move.
    np.testing.assert_array_equal(embedding.weight.data[unseen], unseen_before)
    # What was learned is the text's structure: after 'a' comes 'b', after 'b' comes 'c'.
    prediction = head(embedding(np.array(tokenizer.encode("ab")))).data.argmax(-1)
    assert tokenizer.decode(prediction) == "bc"


class CopyModel(Module):
    """Tokens -> positions-aware embeddings -> causal self-attention (residual) -> logits."""

    def __init__(self, vocab_size: int, dim: int, length: int) -> None:
        super().__init__()
        self.embed = EmbeddingLayer(vocab_size, dim, max_seq_len=length, pos_encoding="learned")
        self.attention = MultiHeadAttention(dim, num_heads=2)
        self.head = Linear(dim, vocab_size)

    def forward(self, ids: np.ndarray) -> Tensor:
        x = self.embed(ids)
        return self.head(x + self.attention(x, is_causal=True))


def test_end_to_end_tokenizer_embedding_attention_training() -> None:
    """Copying '4 digits|the same 4 digits' needs attention: the loss must fall far below chance."""
    manual_seed(8)
    tokenizer = CharTokenizer.from_text("0123456789|")
    rng = np.random.default_rng(8)
    model = CopyModel(tokenizer.vocab_size, dim=32, length=9)
    optimizer = Adam(model.parameters(), lr=0.01)

    def batch(size: int) -> tuple[np.ndarray, np.ndarray]:
        digits = rng.integers(0, 10, size=(size, 4)).astype(str)
        texts = ["".join(d) + "|" + "".join(d) for d in digits]
        ids = tokenizer.encode_batch(texts).ids
        targets = np.full_like(ids[:, 1:], -100)  # only the copied half is scored
        targets[:, 4:] = ids[:, 5:]
        return ids[:, :-1], targets

    chance = np.log(10.0)
    for _ in range(250):
        inputs, targets = batch(32)
        optimizer.zero_grad()
        loss = cross_entropy(model(inputs), targets, ignore_index=-100)
        loss.backward()
        optimizer.step()
    inputs, targets = batch(256)
    final = cross_entropy(model(inputs), targets, ignore_index=-100).item()
    assert final < 0.25 * chance
    accuracy = (model(inputs).data.argmax(-1) == targets)[:, 4:].mean()
    assert accuracy > 0.9
