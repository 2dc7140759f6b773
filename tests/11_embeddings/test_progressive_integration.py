"""Module 11 (Embeddings) progressive integration suite.

Validates every integration point of the embeddings module, as planned in this directory's
README: token ids from the tokenizers (10) flow into embeddings (11) built on tensors (01);
gradients flow back through autograd (05) into the table; parameters are trained by the
optimizers (06); position-aware vectors feed attention (12). Every test checks values, not just
shapes, so it fails when the behaviour it guards breaks.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.autograd import no_grad
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.sparse import RowSparseGrad
from tinytorch.core.tensor import Tensor
from tinytorch.data import generate_corpus
from tinytorch.text.embeddings import (
    Embedding,
    EmbeddingLayer,
    PositionalEncoding,
    SinusoidalPositionalEncoding,
    create_sinusoidal_embeddings,
    embedding_memory_bytes,
)
from tinytorch.text.tokenization import BPETokenizer, CharTokenizer

# Real text: the first stories of the built-in corpus (deterministic, English-like).
TEXT = generate_corpus(num_chars=4_000, seed=3).text


def scatter_add_reference(ids: np.ndarray, upstream: np.ndarray, vocab_size: int) -> np.ndarray:
    """The weight gradient of a lookup, written as the plainest possible loop."""
    expected = np.zeros((vocab_size, upstream.shape[-1]), dtype=np.float64)
    for position, token in np.ndenumerate(ids):
        expected[token] += upstream[position]
    return expected


class TestModule11EmbeddingsCore:
    def test_embedding_creation(self) -> None:
        emb = Embedding(vocab_size=100, embed_dim=16)
        torch_style = Embedding(100, 16)
        assert emb.weight.shape == torch_style.weight.shape == (100, 16)
        assert emb.weight.dtype == np.float32 and emb.weight.requires_grad
        assert list(emb.parameters()) == [emb.weight]
        # N(0, 1) initialisation, as in torch.nn.Embedding.
        assert abs(float(emb.weight.data.std()) - 1.0) < 0.1
        assert abs(float(emb.weight.data.mean())) < 0.1

        ids = np.array([[3, 7, 3], [99, 0, 42]])
        out = emb(ids)
        assert out.shape == (2, 3, 16) and out.dtype == np.float32
        np.testing.assert_array_equal(out.data, emb.weight.data[ids])
        # Any index shape: 0-d gives one vector, empty gives an empty batch of vectors.
        np.testing.assert_array_equal(emb(np.int64(5)).data, emb.weight.data[5])
        assert emb(np.zeros((0, 4), dtype=np.int64)).shape == (0, 4, 16)
        # Ids as Tensor, ndarray and list agree.
        np.testing.assert_array_equal(emb(Tensor([3, 7])).data, emb([3, 7]).data)

    def test_positional_encoding_creation(self) -> None:
        learned = PositionalEncoding(max_seq_len=32, embed_dim=8)
        assert learned.weight.shape == (32, 8) and learned.weight.requires_grad
        x = Tensor(np.random.default_rng(0).standard_normal((2, 5, 8)))
        np.testing.assert_allclose(learned(x).data, x.data + learned.weight.data[:5])
        np.testing.assert_allclose(learned(x, offset=3).data, x.data + learned.weight.data[3:8])

        # Known answers from Vaswani et al. 2017 (interleaved sin/cos), d=4.
        table = create_sinusoidal_embeddings(max_seq_len=4, embed_dim=4)
        np.testing.assert_allclose(table[0], [0.0, 1.0, 0.0, 1.0], atol=1e-7)
        np.testing.assert_allclose(
            table[1], [0.84147098, 0.54030231, 0.00999983, 0.99995], rtol=1e-6
        )
        # And from the formula at a far position and an odd width.
        odd = create_sinusoidal_embeddings(max_seq_len=100, embed_dim=5)
        angles = 77 / 10000.0 ** (np.array([0, 0, 2, 2, 4]) / 5)
        np.testing.assert_allclose(
            odd[77], [np.sin(angles[0]), np.cos(angles[1]), np.sin(angles[2]),
                      np.cos(angles[3]), np.sin(angles[4])], rtol=1e-5, atol=1e-6
        )
        fixed = SinusoidalPositionalEncoding(max_seq_len=4, embed_dim=4)
        assert list(fixed.parameters()) == []
        np.testing.assert_allclose(fixed(Tensor(np.zeros((1, 4, 4)))).data[0], table)
        # Known answers (30-digit arithmetic) far out and in the slowest dimensions, where a
        # wrong base (e.g. 1000: sin would be 0.856 at dim 510) or swapped sin/cos show at once.
        wide = EmbeddingLayer(3, 512, max_seq_len=1001, pos_encoding="sinusoidal")
        pe = wide.position_encoding.pe.data
        np.testing.assert_allclose(
            pe[1000, [0, 1, 2, 3, 510, 511]],
            [0.826879540532, 0.562379076291, -0.191485331809, -0.981495475131, 0.103477730265,
             0.994631770727],
            atol=2e-6,
        )
        np.testing.assert_array_equal(pe, create_sinusoidal_embeddings(1001, 512))


class TestBackwardIntegration:
    def test_tokenizer_embedding_pipeline(self) -> None:
        """Module 10 -> 11: real text through both tokenizers into an embedding layer."""
        char = CharTokenizer.from_text(TEXT)
        bpe = BPETokenizer.train(TEXT, vocab_size=300)
        texts = ["Once upon a time, Tom found a clock.", "Hi, Anna!", "zebra? \u00e9"]
        for tokenizer in (char, bpe):
            batch = tokenizer.encode_batch(texts)
            assert batch.ids.dtype == np.int64 and batch.attention_mask.dtype == np.bool_
            assert 0 <= batch.ids.min() and batch.ids.max() < tokenizer.vocab_size
            layer = EmbeddingLayer(tokenizer.vocab_size, 12, max_seq_len=64, pos_encoding=None,
                                   padding_idx=tokenizer.pad_id)
            vectors = layer(batch.ids)
            assert vectors.shape == (*batch.ids.shape, 12)
            table = layer.token_embedding.weight.data
            np.testing.assert_array_equal(vectors.data, table[batch.ids])
            # Padding positions read the all-zero padding row; real tokens round-trip.
            assert not vectors.data[~batch.attention_mask].any()
            for row, text in enumerate(texts[:2]):
                real = batch.ids[row][batch.attention_mask[row]]
                assert tokenizer.decode(real) == text
            # Padding is exactly the pad id, which no real token uses.
            assert np.all(batch.ids[~batch.attention_mask] == tokenizer.pad_id)
            assert tokenizer.pad_id not in batch.ids[batch.attention_mask]
        # A character the char tokenizer never saw maps to <unk>, which still embeds.
        assert char.unk_id in char.encode("\u00e9")
        assert bpe.decode(bpe.encode(texts[2])) == texts[2]
        # BPE ids are 256 bytes, then merges, then specials from 256 + merges on.
        assert bpe.vocab_size == 300 and len(bpe.merges) == 40
        assert bpe.special_tokens == {"<pad>": 296, "<unk>": 297, "<bos>": 298, "<eos>": 299}

        # Known answers on a tiny corpus, derived by hand. Pair counts of "aaabdaaabac":
        # aa 4 -> merge 256; then (256, a) and (a, b) tie at 2 and the smaller pair wins:
        # ab -> 257; then (256, 257) = "aaab" -> 258. Specials follow the 3 merges.
        tiny = BPETokenizer.train("aaabdaaabac", vocab_size=263, pattern=None)
        assert tiny.merges == [(97, 97), (97, 98), (256, 257)]
        assert tiny.special_tokens == {"<pad>": 259, "<unk>": 260, "<bos>": 261, "<eos>": 262}
        assert tiny.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
        assert tiny.encode("aaa") == [256, 97]  # left to right, not (a, aa)
        # Encoding applies merges by rank, not by position: with "bc" ranked first, "abc" is
        # a + bc even though "ab" comes first in the text.
        ranked = BPETokenizer([(98, 99), (97, 98)], pattern=None)
        assert ranked.encode("abc") == [97, 256] and ranked.encode("abcab") == [97, 256, 257]
        batch = ranked.encode_batch(["abc", "ab c"])
        np.testing.assert_array_equal(batch.ids, [[97, 256, 258], [257, 32, 99]])
        assert ranked.pad_id == 258 and ranked.decode([97, 256, 257]) == "abcab"

    def test_embedding_gradient_flow(self) -> None:
        """Module 11 -> 05: the table's gradient is the scatter-add of the upstream gradient."""
        rng = np.random.default_rng(1)
        vocab, dim = 20, 6
        layer = EmbeddingLayer(vocab, dim, max_seq_len=8, pos_encoding="learned")
        ids = np.array([[4, 9, 4, 4], [0, 9, 17, 2]])  # 4 three times, 9 twice
        upstream = rng.standard_normal((2, 4, dim)).astype(np.float32)
        out = layer(ids)
        (out * Tensor(upstream)).sum().backward()

        token_grad = layer.token_embedding.weight.grad
        np.testing.assert_allclose(token_grad, scatter_add_reference(ids, upstream, vocab),
                                   rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(token_grad[4], upstream[0, 0] + upstream[0, 2] + upstream[0, 3],
                                   rtol=1e-6)
        unused = np.setdiff1d(np.arange(vocab), ids)
        assert np.all(token_grad[unused] == 0.0)
        # Learned positions receive the upstream gradient summed over the batch.
        pos_grad = layer.position_encoding.weight.grad
        np.testing.assert_allclose(pos_grad[:4], upstream.sum(axis=0), rtol=1e-6)
        assert np.all(pos_grad[4:] == 0.0)

        # Central differences in float64 agree with the analytic gradient.
        emb = Embedding(5, 3, _weight=rng.standard_normal((5, 3)))
        emb.to(np.float64)
        ids64 = np.array([1, 3, 1])
        probe = rng.standard_normal((3, 3))
        (emb(ids64) * Tensor(probe, dtype=np.float64)).sum().backward()
        numeric = np.zeros((5, 3))
        for index in np.ndindex(5, 3):
            saved = emb.weight.data[index]
            emb.weight.data[index] = saved + 1e-6
            up = float((emb.weight.data[ids64] * probe).sum())
            emb.weight.data[index] = saved - 1e-6
            down = float((emb.weight.data[ids64] * probe).sum())
            emb.weight.data[index] = saved
            numeric[index] = (up - down) / 2e-6
        np.testing.assert_allclose(emb.weight.grad, numeric, rtol=1e-6, atol=1e-8)

    def test_embedding_index_validation(self) -> None:
        emb = Embedding(10, 4)
        for bad, position in (([[1, 2], [10, 3]], "(1, 0)"), ([0, -1, 2], "(1,)")):
            with pytest.raises(IndexError, match="out of range") as caught:
                emb(np.array(bad))
            assert isinstance(caught.value, ValueError)
            offending = str(np.array(bad)[np.array(bad) >= 10].tolist() or [-1])[1:-1]
            assert offending in str(caught.value) and position in str(caught.value)
            assert "[0, 10)" in str(caught.value)
        with pytest.raises(ValueError, match="out of range"):
            emb([2**40])  # far out of range: no overflow, no wrap
        for bad_dtype in (np.array([1.0, 2.0]), np.array([True, False])):
            with pytest.raises(TypeError, match="integers"):
                emb(bad_dtype)
        # The boundary ids themselves are valid.
        np.testing.assert_array_equal(emb([0, 9]).data, emb.weight.data[[0, 9]])


class TestForwardIntegration:
    def test_embedding_attention_compatibility(self) -> None:
        """Module 11 -> 12: embedded, padded batches through masked causal attention."""
        tokenizer = CharTokenizer.from_text(TEXT)
        batch = tokenizer.encode_batch(["Tom saw a fox.", "Hi!"])
        layer = EmbeddingLayer(tokenizer.vocab_size, 16, max_seq_len=32, pos_encoding="sinusoidal",
                               padding_idx=tokenizer.pad_id)
        attention = MultiHeadAttention(16, num_heads=4)
        x = layer(batch.ids)
        out = attention(x, key_padding_mask=batch.attention_mask, is_causal=True)
        assert out.shape == x.shape and np.isfinite(out.data).all()

        # The short sequence's real tokens ignore its padded keys entirely: changing what
        # sits at padded positions changes nothing where attention_mask is True.
        noisy = x.data.copy()
        noisy[~batch.attention_mask] = 1e3
        out_noisy = attention(Tensor(noisy), key_padding_mask=batch.attention_mask,
                              is_causal=True)
        real = batch.attention_mask
        np.testing.assert_allclose(out_noisy.data[real], out.data[real], rtol=1e-5, atol=1e-5)

        # Left padding, with and without a causal mask: here real tokens come after padded
        # keys, so they would see them unless key_padding_mask hides them. Reference: each
        # row's real tokens attended alone, with the padded positions cut out.
        lengths = batch.attention_mask.sum(axis=1)
        left = np.full_like(batch.ids, tokenizer.pad_id)
        for row, n in enumerate(lengths):
            left[row, left.shape[1] - n:] = batch.ids[row, :n]
        left_mask = left != tokenizer.pad_id
        x_left = layer(left)
        for causal in (False, True):
            out_left = attention(x_left, key_padding_mask=left_mask, is_causal=causal)
            for row in range(len(left)):
                alone = attention(x_left[row: row + 1][:, left_mask[row]], is_causal=causal)
                np.testing.assert_allclose(out_left.data[row][left_mask[row]], alone.data[0],
                                           rtol=1e-5, atol=1e-6)

        # Causality: the first token's output does not depend on later tokens.
        changed = x.data.copy()
        changed[:, 1:] += 1.0
        out_changed = attention(Tensor(changed), is_causal=True)
        np.testing.assert_allclose(out_changed.data[:, 0], attention(x, is_causal=True).data[:, 0],
                                   rtol=1e-5, atol=1e-6)

        # Gradients flow from the attention output back into exactly the rows used.
        out.sum().backward()
        grad = layer.token_embedding.weight.grad
        used = np.unique(batch.ids[batch.attention_mask])
        assert np.all(np.abs(grad[used]).sum(axis=1) > 0)
        unused = np.setdiff1d(np.arange(tokenizer.vocab_size), batch.ids)
        assert np.all(grad[unused] == 0.0)
        assert np.all(grad[tokenizer.pad_id] == 0.0)

    def test_positional_encoding_max_seq_len(self) -> None:
        x_ok, x_long = Tensor(np.zeros((1, 16, 8))), Tensor(np.zeros((1, 17, 8)))
        for encoding in (PositionalEncoding(16, 8), SinusoidalPositionalEncoding(16, 8)):
            assert encoding(x_ok).shape == (1, 16, 8)  # exactly max_seq_len is fine
            with pytest.raises(ValueError, match="exceeds maximum") as caught:
                encoding(x_long)
            assert "17" in str(caught.value) and "16" in str(caught.value)
            with pytest.raises(ValueError, match="exceeds maximum"):
                encoding(Tensor(np.zeros((1, 4, 8))), offset=13)  # ends at 17
        layer = EmbeddingLayer(50, 8, max_seq_len=16, pos_encoding="learned")
        with pytest.raises(ValueError, match="exceeds maximum"):
            layer(np.zeros((2, 17), dtype=np.int64))
        # Rotary positions live in attention: the embedding layer has no length limit.
        rope = EmbeddingLayer(50, 8, max_seq_len=16, pos_encoding="rope")
        assert rope(np.zeros((1, 40), dtype=np.int64)).shape == (1, 40, 8)

    def test_variable_sequence_lengths(self) -> None:
        layer = EmbeddingLayer(30, 8, max_seq_len=24, pos_encoding="learned")
        ids = np.random.default_rng(2).integers(0, 30, size=24)
        full = layer(ids).data
        for length in (1, 5, 17, 24):
            part = layer(ids[:length])
            assert part.shape == (length, 8)
            # A position's vector depends only on its token and its position, not on length.
            np.testing.assert_array_equal(part.data, full[:length])
        # Incremental decoding: one token at offset t equals position t of the full sequence.
        np.testing.assert_array_equal(layer(ids[9:10], offset=9).data[0], full[9])
        # A 2-D batch agrees with its rows embedded one at a time.
        batch = np.stack([ids[:6], ids[6:12]])
        np.testing.assert_array_equal(layer(batch).data[1], layer(ids[6:12]).data)


class TestCrossModuleIntegration:
    def test_embedding_parameters_optimizable(self) -> None:
        """Module 11 -> 06: an optimizer step changes exactly the rows that were used."""
        layer = EmbeddingLayer(40, 6, max_seq_len=8, pos_encoding="learned")
        table, positions = layer.token_embedding.weight, layer.position_encoding.weight
        assert {id(p) for p in layer.parameters()} == {id(table), id(positions)}
        before = table.data.copy()
        ids = np.array([[3, 5, 3]])
        layer(ids).sum().backward()
        SGD(layer.parameters(), lr=0.5).step()
        changed = np.flatnonzero(np.any(table.data != before, axis=1))
        np.testing.assert_array_equal(changed, [3, 5])
        np.testing.assert_allclose(table.data[3], before[3] - 0.5 * 2.0)  # used twice
        np.testing.assert_allclose(table.data[5], before[5] - 0.5)

        # Row-sparse gradients: Adam touches only the looked-up rows, never densifying.
        sparse = Embedding(1000, 4, sparse=True)
        start = sparse.weight.data.copy()
        optimizer = Adam(sparse.parameters(), lr=0.1)
        sparse(np.array([7, 500, 7])).sum().backward()
        assert isinstance(sparse.weight.grad, RowSparseGrad)
        np.testing.assert_array_equal(sparse.weight.grad.indices, [7, 500])
        np.testing.assert_allclose(sparse.weight.grad.values, [[2.0] * 4, [1.0] * 4])
        optimizer.step()
        moved = np.flatnonzero(np.any(sparse.weight.data != start, axis=1))
        np.testing.assert_array_equal(moved, [7, 500])

    def test_sinusoidal_vs_learned_encoding(self) -> None:
        ids = np.arange(10)[None, :] % 7
        learned = EmbeddingLayer(7, 8, max_seq_len=10, pos_encoding="learned")
        fixed = EmbeddingLayer(7, 8, max_seq_len=10, pos_encoding="sinusoidal")
        fixed.token_embedding.weight.data[...] = learned.token_embedding.weight.data
        sinusoid = fixed.position_encoding.pe.data.copy()
        learned_before = learned.position_encoding.weight.data.copy()

        for layer in (learned, fixed):
            optimizer = Adam(layer.parameters(), lr=0.05)
            for _ in range(3):
                optimizer.zero_grad()
                (layer(ids) ** 2).mean().backward()
                optimizer.step()
        # Learned positions train; sinusoidal positions are a fixed buffer, not a parameter.
        assert not np.allclose(learned.position_encoding.weight.data, learned_before)
        np.testing.assert_array_equal(fixed.position_encoding.pe.data, sinusoid)
        assert len(list(learned.parameters())) == 2 and len(list(fixed.parameters())) == 1
        assert "position_encoding.pe" not in fixed.state_dict()
        # The sinusoid's defining property: shifting by k positions is a fixed rotation of
        # each (sin, cos) pair, whatever the starting position.
        k, pair = 3, 2
        angle = k / 10000.0 ** (2 * pair / 8)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        for pos in (0, 4):
            shifted = sinusoid[pos, 2 * pair: 2 * pair + 2] @ rotation
            np.testing.assert_allclose(shifted, sinusoid[pos + k, 2 * pair: 2 * pair + 2],
                                       atol=1e-6)


class TestRegressionPrevention:
    # A limit far above the test's run time: an engine that re-walks shared subgraphs makes
    # this test FAIL on time instead of hanging the suite.
    @pytest.mark.timeout(10)
    def test_prior_stack_stable(self) -> None:
        """Modules 01, 05 and 10 still behave as the embeddings rely on them to."""
        # Tensor: int64 ids stay exact beyond float32's 2**24; floats stay float32.
        assert Tensor([2**24 + 1]).data[0] == 2**24 + 1 and Tensor([2**24 + 1]).dtype == np.int64
        assert (Tensor([1.5]) * 2.0).dtype == np.float32
        # Autograd: duplicate indices accumulate; shared subgraphs are walked once.
        x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
        x[[0, 0, 1]].sum().backward()
        np.testing.assert_array_equal(x.grad, [2.0, 1.0, 0.0])
        y = Tensor([2.0], requires_grad=True)
        z = y
        for _ in range(60):  # 2**60 paths if a backward re-walked shared nodes
            z = z * 1.0 + z * 0.0
        z.sum().backward()
        np.testing.assert_allclose(y.grad, [1.0])
        # A graph is freed by its backward: a second one says so; no_grad records nothing.
        with pytest.raises(RuntimeError) as caught:
            z.sum().backward()
        assert str(caught.value) == (
            "Trying to backward through the graph a second time: its saved values were freed "
            "after the first backward. Call backward(retain_graph=True) the first time.")
        with no_grad():
            assert not (y * 2.0).requires_grad
            with no_grad():
                pass
            assert not (y * 2.0).requires_grad  # an inner no_grad restores "off", not "on"
        assert (y * 2.0).requires_grad
        # Softmax stays finite on huge logits.
        assert np.isfinite(Tensor([[1e4, -1e4, 0.0]]).softmax(-1).data).all()
        # Tokenizer: exact round trip including whitespace and newlines.
        tokenizer = CharTokenizer.from_text(TEXT)
        sample = TEXT[:300]
        assert tokenizer.decode(tokenizer.encode(sample)) == sample

    def test_embedding_memory_scaling(self) -> None:
        for vocab, dim in ((100, 16), (50_000, 256), (65, 384)):
            assert embedding_memory_bytes(vocab, dim) == vocab * dim * 4
        small, double = Embedding(1000, 32), Embedding(2000, 32)
        assert small.memory_bytes() == small.weight.data.nbytes == 1000 * 32 * 4
        assert double.memory_bytes() == 2 * small.memory_bytes()
        assert embedding_memory_bytes(1000, 32, np.float64) == 1000 * 32 * 8
        # A sparse gradient costs memory for the used rows only, not the whole table.
        big = Embedding(50_000, 64, sparse=True)
        big(np.array([1, 2, 3, 2])).sum().backward()
        assert big.weight.grad.values.nbytes == 3 * 64 * 4
