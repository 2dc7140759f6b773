"""The README's priority tests (P0-P2) that guard failure modes beyond the integration suite.

Each test is named as in the roadmap of this directory's README; the end-to-end test trains a
tokenizer -> embedding -> attention -> linear model with Adam on a task only attention can solve.
"""

from __future__ import annotations

import math
import threading
from collections import Counter

import numpy as np
import pytest
import torch

from tinytorch.core.attention import KVCache, MultiHeadAttention, scaled_dot_product_attention
from tinytorch.core.autograd import no_grad
from tinytorch.core.errors import IndexOutOfRangeError
from tinytorch.core.functional import concatenate
from tinytorch.core.layers import Linear, Module
from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.random import default_generator, manual_seed
from tinytorch.core.sparse import RowSparseGrad
from tinytorch.core.tensor import Tensor
from tinytorch.testing import numerical_gradient
from tinytorch.text import bpe as bpe_module
from tinytorch.text import bpe_ids
from tinytorch.text.embeddings import (
    Embedding,
    EmbeddingLayer,
    PositionalEncoding,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    alibi_bias,
    alibi_slopes,
    create_sinusoidal_embeddings,
    embedding,
    embedding_memory_bytes,
)
from tinytorch.text.positions import position_scheme
from tinytorch.text.tokenization import BPETokenizer, CharTokenizer


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
    optimizer = Adam(model.parameters(), lr=0.02)

    def batch(size: int) -> tuple[np.ndarray, np.ndarray]:
        digits = rng.integers(0, 10, size=(size, 4)).astype(str)
        texts = ["".join(d) + "|" + "".join(d) for d in digits]
        ids = tokenizer.encode_batch(texts).ids
        targets = np.full_like(ids[:, 1:], -100)  # only the copied half is scored
        targets[:, 4:] = ids[:, 5:]
        return ids[:, :-1], targets

    chance = np.log(10.0)
    for _ in range(100):
        inputs, targets = batch(16)
        optimizer.zero_grad()
        loss = cross_entropy(model(inputs), targets, ignore_index=-100)
        loss.backward()
        optimizer.step()
    inputs, targets = batch(256)
    final = cross_entropy(model(inputs), targets, ignore_index=-100).item()
    assert final < 0.25 * chance
    accuracy = (model(inputs).data.argmax(-1) == targets)[:, 4:].mean()
    assert accuracy > 0.9


# ------------------------------------------------- attention, checked against a reference
def reference_attention(params: dict, x: torch.Tensor, real: np.ndarray, heads: int,
                        causal: bool, positions: str | None) -> tuple:
    """MultiHeadAttention written out in float64 PyTorch: projections, RoPE (interleaved pairs)
    or ALiBi (the paper's slopes), padding and causal masks, softmax, merge, output projection.
    A query that may attend to nothing gets zero weights (tinytorch's rule), not NaN."""
    batch, length, dim = x.shape
    head_dim = dim // heads

    def project(name: str, t: torch.Tensor) -> torch.Tensor:
        out = t @ params[f"{name}.weight"].T + params[f"{name}.bias"]
        return out.reshape(batch, length, heads, head_dim).transpose(1, 2)

    q, k, v = project("q_proj", x), project("k_proj", x), project("v_proj", x)
    pos = torch.arange(length, dtype=torch.float64)
    if positions == "rope":
        angle = pos[:, None] * 10000.0 ** (-torch.arange(0, head_dim, 2) / head_dim)
        cos, sin = angle.cos(), angle.sin()

        def rotate(t: torch.Tensor) -> torch.Tensor:
            even, odd = t[..., 0::2], t[..., 1::2]
            return torch.stack([even * cos - odd * sin, even * sin + odd * cos], -1).flatten(-2)

        q, k = rotate(q), rotate(k)
    scores = q @ k.transpose(-1, -2) / head_dim**0.5
    if positions == "alibi":
        slopes = torch.tensor({2: [1 / 16, 1 / 256], 3: [1 / 16, 1 / 256, 1 / 4]}[heads])
        scores = scores - slopes[:, None, None] * (pos[None, :] - pos[:, None]).abs()
    allowed = torch.tensor(real)[:, None, None, :].expand(batch, heads, length, length)
    if causal:
        allowed = allowed & torch.ones(length, length, dtype=torch.bool).tril()
    weights = torch.softmax(scores.masked_fill(~allowed, -1e300), -1)
    weights = weights * allowed.any(-1, keepdim=True)
    merged = (weights @ v).transpose(1, 2).reshape(batch, length, dim)
    return merged @ params["out_proj.weight"].T + params["out_proj.bias"], weights


@pytest.mark.parametrize(
    "positions, heads, causal, length",
    [(None, 2, True, 40), (None, 2, False, 40), ("rope", 2, True, 40), ("alibi", 3, True, 40),
     ("alibi", 2, False, 9), (None, 2, True, 256)],
)
def test_embedded_attention_matches_reference(positions, heads, causal, length) -> None:
    """Left-padded embedded batches through MultiHeadAttention: outputs, weights and every
    gradient (embedding table included) equal a float64 PyTorch reference. Length 40 splits
    causal queries into blocks; length 256 splits the batch over two threads."""
    from tinytorch.core import parallel

    manual_seed(11)
    rng = np.random.default_rng(11)
    vocab, dim, batch = 20, 6 * heads, 4
    layer = EmbeddingLayer(vocab, dim, max_seq_len=length, padding_idx=0)
    attention = MultiHeadAttention(
        dim, num_heads=heads, positions=_in_attention(positions, dim, heads)
    )
    lengths = np.array([length, length - 3, 1, length // 2])
    ids = rng.integers(1, vocab, size=(batch, length))
    real = np.arange(length)[None, :] >= (length - lengths)[:, None]  # left padding
    ids[~real] = 0
    upstream = rng.standard_normal((batch, length, dim)).astype(np.float32)

    threads = parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        x = layer(ids)
        out, weights = attention(x, key_padding_mask=real, is_causal=causal, need_weights=True)
        (out * Tensor(upstream)).sum().backward()
    finally:
        parallel.set_num_threads(threads)

    params = {name: torch.tensor(p.data, dtype=torch.float64, requires_grad=True)
              for name, p in attention.named_parameters()}
    table = torch.tensor(layer.token_embedding.weight.data, dtype=torch.float64,
                         requires_grad=True)
    positions_table = torch.tensor(layer.position_encoding.weight.data, dtype=torch.float64,
                                   requires_grad=True)
    x_ref = torch.nn.functional.embedding(torch.tensor(ids), table, padding_idx=0)
    x_ref = x_ref + positions_table[:length]
    out_ref, weights_ref = reference_attention(params, x_ref, real, heads, causal, positions)
    (out_ref * torch.tensor(upstream, dtype=torch.float64)).sum().backward()

    np.testing.assert_allclose(out.data, out_ref.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(weights.data, weights_ref.detach().numpy(), atol=1e-6)
    for name, p in attention.named_parameters():
        np.testing.assert_allclose(p.grad, params[name].grad.numpy(), rtol=1e-3, atol=1e-4,
                                   err_msg=name)
    np.testing.assert_allclose(layer.token_embedding.weight.grad, table.grad.numpy(),
                               rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(layer.position_encoding.weight.grad, positions_table.grad.numpy(),
                               rtol=1e-3, atol=1e-4)


@pytest.mark.filterwarnings("ignore:overflow encountered in subtract:RuntimeWarning")
def test_attention_softmax_at_extreme_scores() -> None:
    """The fused softmax at the edge of float32: exact weights, finite outputs and gradients.

    One query per row with a head size of 1 and scale 1, so the scores are exactly the keys.
    """
    big, huge = 1e30, 3e38  # 3e38 is near float32's maximum (3.4e38)
    rows = [  # scores, may attend, expected weights
        ([huge, 0.0, -huge], [True] * 3, [1.0, 0.0, 0.0]),
        ([huge, huge, huge], [True] * 3, [1 / 3] * 3),
        ([-huge, -huge, -huge], [True] * 3, [1 / 3] * 3),
        ([big, big, -big], [True] * 3, [0.5, 0.5, 0.0]),
        ([-big, 0.0, big], [True] * 3, [0.0, 0.0, 1.0]),
        ([huge, 0.0, -huge], [False] * 3, [0.0, 0.0, 0.0]),  # nothing to attend to
        ([huge, -big, -big], [False, True, True], [0.0, 0.5, 0.5]),
    ]
    scores = np.array([r[0] for r in rows], dtype=np.float32)[:, :, None]  # (rows, keys, 1)
    allowed = np.array([r[1] for r in rows])[:, None, :]  # (rows, 1 query, keys)
    expected = np.array([r[2] for r in rows])
    values = np.array([0.25, 0.5, 1.0], dtype=np.float32)
    q = Tensor(np.ones((len(rows), 1, 1), dtype=np.float32), requires_grad=True)
    k = Tensor(scores, requires_grad=True)
    v = Tensor(np.broadcast_to(values[:, None], (len(rows), 3, 1)).copy(), requires_grad=True)
    out, weights = scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=1.0,
                                                return_weights=True)
    assert out.dtype == weights.dtype == np.float32
    np.testing.assert_allclose(weights.data[:, 0], expected, rtol=1e-6, atol=0)
    np.testing.assert_allclose(out.data[:, 0, 0], expected @ values, rtol=1e-6)
    out.sum().backward()
    for grad in (q.grad, k.grad, v.grad):
        assert np.isfinite(grad).all()
    # d out / d v_j = P_j and d out / d k_j = P_j (v_j - out) (q = 1): exact here.
    np.testing.assert_allclose(v.grad[:, :, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(k.grad[:, :, 0], expected * (values - (expected @ values)[:, None]),
                               rtol=1e-5, atol=1e-7)
    # One-hot, half-half, zero and masked rows give exactly no gradient to q.
    np.testing.assert_array_equal(q.grad[[0, 3, 4, 5, 6], 0, 0], 0.0)


def naive_bpe_merges(chunks: list[str], count: int) -> list[tuple[int, int]]:
    """BPE training at its plainest: recount every pair, merge the most frequent (ties: the
    smallest pair), repeat. The oracle for the incremental trainer."""
    words = [list(chunk.encode("utf-8")) for chunk in chunks]
    merges: list[tuple[int, int]] = []
    while len(merges) < count:
        pairs = Counter(pair for word in words for pair in zip(word, word[1:], strict=False))
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        new_id, merged = 255 + len(merges), []
        for word in words:
            out, i = [], 0
            while i < len(word):
                step = 2 if tuple(word[i: i + 2]) == best else 1
                out.append(new_id if step == 2 else word[i])
                i += step
            merged.append(out)
        words = merged
    return merges


def test_bpe_ids_reaching_the_embedding_are_the_known_ones(monkeypatch) -> None:
    """Module 10 -> 11 for BPE: merges equal a naive trainer's, specials sit after them, and
    ids, padding and decoding agree with what the embedding table is sized for."""
    text = "the cat sat on the mat; the cat ate the rat. " * 3 + "a aa aaa aaaa"
    for pattern in ("gpt4", "gpt2", None):
        trained = BPETokenizer.train(text, vocab_size=256 + 30 + 4, pattern=pattern)
        chunks = [text] if pattern is None else bpe_module.regex.findall(
            bpe_module.PATTERNS[pattern], text)
        assert trained.merges == naive_bpe_merges(chunks, 30), pattern
    # Specials: <pad> is added in front when missing; ids follow the merges in order.
    short = BPETokenizer.train("abab", vocab_size=256 + 1 + 2, special_tokens=["<eos>"])
    assert short.merges == [(97, 98)] and short.special_tokens == {"<pad>": 257, "<eos>": 258}
    assert (short.pad_id, short.eos_id, short.unk_id, short.bos_id) == (257, 258, None, None)
    full = BPETokenizer([(97, 98)], special_tokens=["<pad>", "<unk>", "<bos>", "<eos>"])
    assert (full.pad_id, full.unk_id, full.bos_id, full.eos_id) == (257, 258, 259, 260)
    batch = full.encode_batch(["ab", "abab a"], add_bos=True, add_eos=True)
    np.testing.assert_array_equal(
        batch.ids, [[259, 256, 260, 257, 257, 257], [259, 256, 256, 32, 97, 260]])
    # A two-byte chunk merges too; training stops when no pair is left.
    assert full.encode("ab") == [256]
    assert BPETokenizer.train("ab", vocab_size=256 + 5 + 4, pattern=None).merges == [(97, 98)]
    # Decoding: special ids render as names, or vanish (<unk> as U+FFFD) when skipped.
    ids = [259, 256, 258, 257, 260]
    assert full.decode(ids) == "<bos>ab<unk><pad><eos>"
    assert full.decode(ids, skip_special_tokens=True) == "ab\ufffd"
    assert full.decode([0xC3, 0xA9, 0xC3]) == "\u00e9\ufffd"  # invalid UTF-8 is replaced
    # Special strings in text are ordinary text unless allowed; the longest name wins.
    named = BPETokenizer([], special_tokens=["<pad>", "<e>", "<e>x"], pattern="gpt2")
    assert named.encode("a<e>x") == list(b"a<e>x")
    assert named.encode("a<e>xb<e>", allowed_special="all") == [97, 258, 98, 257]
    assert named.encode("<e>x<e>", allowed_special={"<e>"}) == [257, *b"x", 257]
    for bad, message in (("<e>", "allowed_special must be 'all' or a collection of names, "
                                 "got '<e>'"),
                         ({"<f>"}, "unknown special tokens ['<f>']; known: ['<pad>', '<e>', "
                                   "'<e>x']")):
        with pytest.raises(ValueError) as caught:
            named.encode("x", allowed_special=bad)
        assert str(caught.value) == message
    # Encoding repeats exactly from the chunk cache.
    assert full.encode("abab ab") == full.encode("abab ab") == [256, 256, 32, 256]
    # Merges that keep doubling a token are refused once they spell too many bytes (the
    # limit, lowered here, counts the bytes of every merged token so far).
    monkeypatch.setattr(bpe_ids, "MAX_MERGED_BYTES", 6)
    assert len(BPETokenizer([(97, 97), (256, 256)]).merges) == 2  # 2 + 4 bytes: allowed
    with pytest.raises(ValueError) as caught:
        BPETokenizer([(97, 97), (256, 256), (257, 257)])
    assert str(caught.value) == (
        "merges 0..2 spell 14 bytes of tokens, more than the 6 allowed (merges that keep "
        "joining a token with itself double its length each time)")


def test_bpe_numbered_like_a_file_reaches_the_embedding() -> None:
    """A BPE numbered as a file numbers it (GPT-2 permutes the byte ids, places merges and
    specials where it likes and names its roles): the ids reaching the embedding are the ones
    those tables give, the table is sized by the largest id, and an id between them (a gap)
    decodes to an error, not to text."""
    tok = BPETokenizer(
        [(158, 157), (400, 400)], {"<|endoftext|>": 450, "<pad>": 451}, pattern="gpt2",
        byte_ids=[255 - b for b in range(256)], merge_ids=[400, 300],
        roles={"bos": "<|endoftext|>", "eos": "<|endoftext|>"})
    # "abab": bytes 97 98 97 98 are ids 158 157 158 157 -> 400 400 -> 300; " a" is 223 158.
    assert tok.encode("abab a") == [300, 223, 158]
    assert (tok.vocab_size, tok.pad_id, tok.bos_id, tok.eos_id, tok.unk_id) == (
        452, 451, 450, 450, None)
    assert (tok.byte_ids[:2], tok.merge_ids, tok.roles) == (
        [255, 254], [400, 300], {"pad": "<pad>", "bos": "<|endoftext|>", "eos": "<|endoftext|>"})
    batch = tok.encode_batch(["abab", "abab a"], add_bos=True)
    np.testing.assert_array_equal(batch.ids, [[450, 300, 451, 451], [450, 300, 223, 158]])
    table = Embedding(tok.vocab_size, 3, padding_idx=tok.pad_id)
    np.testing.assert_array_equal(table(batch.ids).data, table.weight.data[batch.ids])
    assert tok.decode_bytes(batch.ids[1]) == b"<|endoftext|>abab a"
    assert tok.decode(batch.ids[0], skip_special_tokens=True) == "abab"
    with pytest.raises(ValueError) as caught:
        tok.decode([300, 299])
    assert str(caught.value) == (
        "token id 299 at position 1 has no token: it is a gap in this vocabulary of 452 ids")


def test_bad_input_is_refused_where_it_enters() -> None:
    """Every boundary a token id, vector or mask crosses on its way from text to attention
    refuses bad input with its own exact message (docs/errors.md), naming value and rule."""
    char = CharTokenizer.from_text("abc")
    bpe = BPETokenizer([(97, 98)], pattern=None)
    mha = MultiHeadAttention(4, num_heads=2)
    x = Tensor(np.zeros((1, 3, 4), np.float32))
    q, q3 = Tensor(np.zeros((2, 3, 4), np.float32)), Tensor(np.zeros((3, 3, 4), np.float32))
    attend = scaled_dot_product_attention
    grown = KVCache()
    grown.append(np.zeros((1, 2, 3, 4)), np.zeros((1, 2, 3, 4)))
    cases = [
        (lambda: char.encode(b"ab"),
         TypeError,
         'text must be str, got bytes'),
        (lambda: CharTokenizer(["ab"]),
         ValueError,
         "alphabet entries must be single characters, got 'ab'"),
        (lambda: char.decode([[1, 2], [3]]),
         ValueError,
         'decode expects a 1-D sequence of ids, got nested sequences of unequal '
         'lengths'),
        (lambda: char.decode([[1]]),
         ValueError,
         'decode expects a 1-D sequence of ids, got shape (1, 1)'),
        (lambda: char.decode([2**70]),
         IndexOutOfRangeError,
         'token id 1180591620717411303424 at position 0 is out of range [0, 7)'),
        (lambda: char.decode(np.array([True, 2**70], dtype=object)),
         TypeError,
         'token ids must be integers, got True at position 0'),
        (lambda: char.decode([1.0]),
         TypeError,
         'token ids must be integers, got dtype float64'),
        (lambda: char.decode([4, 7, -1]),
         IndexOutOfRangeError,
         'token id 7 at position 1 is out of range [0, 7)'),
        (lambda: char.decode([4, 7]),
         IndexOutOfRangeError,
         'token id 7 at position 1 is out of range [0, 7)'),
        (lambda: BPETokenizer([(97,)]),
         ValueError,
         'merge 0 must be a pair of integer ids, got (97,)'),
        (lambda: BPETokenizer([(97, 256)]),
         ValueError,
         'merge 0 [97, 256] references an id outside the tokens made before it: 256 is '
         "neither a byte's id nor made by an earlier merge"),
        (lambda: BPETokenizer([(97, 98), (97, 98)]),
         ValueError,
         'merge 1 [97, 98] repeats merge 0'),
        (lambda: BPETokenizer([], special_tokens=["<unk>"]),
         ValueError,
         "special_tokens must include '<pad>' (encode_batch pads with it)"),
        (lambda: BPETokenizer([], special_tokens="<pad>"),
         TypeError,
         'special_tokens must be a sequence of strings, not a single str'),
        (lambda: BPETokenizer([], special_tokens=["<pad>", ""]),
         ValueError,
         "special tokens must be non-empty strings, got ''"),
        (lambda: BPETokenizer([], special_tokens=["<pad>", "<a>", "<a>"]),
         ValueError,
         "duplicate special tokens ['<a>']"),
        (lambda: BPETokenizer([], pattern="gpt3"),
         ValueError,
         "pattern must be one of ['gpt2', 'gpt4', 'o200k'] or None, got 'gpt3'"),
        (lambda: BPETokenizer.train("ab", vocab_size=True),
         TypeError,
         'vocab_size must be an int, got True'),
        (lambda: BPETokenizer.train("ab", vocab_size=259),
         ValueError,
         'vocab_size=259 is too small: need >= 260 (256 bytes + 4 special tokens)'),
        (lambda: BPETokenizer.train("a\ud800", vocab_size=300),
         ValueError,
         'text is not encodable as UTF-8: lone surrogate U+D800 at index 1'),
        (lambda: bpe.encode("ab\udfff"),
         ValueError,
         'text is not encodable as UTF-8: lone surrogate U+DFFF at index 2'),
        (lambda: bpe.decode([261]),
         IndexOutOfRangeError,
         'token id 261 at position 0 is out of range [0, 261)'),
        (lambda: RotaryEmbedding(5),
         ValueError,
         'RotaryEmbedding needs an even head_dim (pairs), got 5'),
        (lambda: RotaryEmbedding(4, base=0.0),
         ValueError,
         'base must be positive, got 0.0'),
        (lambda: RotaryEmbedding(4)(Tensor(np.zeros((2, 4), np.int64))),
         TypeError,
         'RotaryEmbedding needs floating-point input, got dtype int64'),
        (lambda: RotaryEmbedding(4)(Tensor(np.zeros((2, 6), np.float32))),
         ValueError,
         'RotaryEmbedding(head_dim=4) needs input of shape (..., seq_len, 4), got '
         '(2, 6)'),
        (lambda: RotaryEmbedding(4)(Tensor(np.zeros((2, 4), np.float32)), offset=-1),
         ValueError,
         'offset must be a non-negative integer, got -1'),
        (lambda: alibi_slopes(0),
         ValueError,
         'num_heads must be a positive integer, got 0'),
        (lambda: alibi_bias(2, -1, 3),
         ValueError,
         'q_len must be a non-negative integer, got -1'),
        (lambda: create_sinusoidal_embeddings(4, 4, base=0.0),
         ValueError,
         'base must be positive, got 0.0'),
        (lambda: EmbeddingLayer(5, 4)(np.zeros((1, 1, 1), np.int64)),
         ValueError,
         'EmbeddingLayer expects tokens of shape (seq_len,) or (batch, seq_len), '
         'got 3-D input'),
        (lambda: EmbeddingLayer(5, 4)(np.zeros(2, np.int64), offset=-2),
         ValueError,
         'offset must be a non-negative integer, got -2'),
        (lambda: EmbeddingLayer(5, 4)(np.zeros(2, np.int64), offset=True),
         ValueError,
         'offset must be a non-negative integer, got True'),
        (lambda: EmbeddingLayer(5, 4, pos_encoding="wings"),
         ValueError,
         "pos_encoding must be one of ['learned', 'sinusoidal', 'rope', 'alibi', 'none'], "
         "got 'wings'"),
        (lambda: MultiHeadAttention(6, num_heads=4),
         ValueError,
         'embed_dim (6) must be divisible by num_heads (4)'),
        (lambda: MultiHeadAttention(4, num_heads=2, dropout=1.0),
         ValueError,
         'dropout must be a number in [0, 1), got 1.0'),
        (lambda: MultiHeadAttention(4, num_heads=2, positions="learned"),
         TypeError,
         "positions must be an AttentionPositions (e.g. RotaryEmbedding, ALiBi) or None, got "
         "str"),
        (lambda: position_scheme("rope").build_attention(6, 2),
         ValueError,
         'rope needs an even head_dim, got 3 (embed_dim 6 / num_heads 2)'),
        (lambda: MultiHeadAttention(4, num_heads=2, batch_first=1),
         TypeError,
         'batch_first must be a bool, got 1'),
        (lambda: MultiHeadAttention(4, num_heads=2, kdim=0),
         ValueError,
         'kdim must be a positive integer, got 0'),
        (lambda: mha(Tensor(np.zeros((1, 3, 5), np.float32))),
         ValueError,
         'query must have shape (batch, seq, 4) for embed_dim=4, got (1, 3, 5)'),
        (lambda: MultiHeadAttention(4, 2, batch_first=False)(Tensor(np.zeros((3, 4), np.float32))),
         ValueError,
         'query must have shape (seq, batch, 4) for embed_dim=4, got (3, 4)'),
        (lambda: mha(x, Tensor(np.zeros((2, 3, 4), np.float32))),
         ValueError,
         'query (1, 3, 4), key (2, 3, 4) and value (2, 3, 4) must share the batch '
         'size, and key and value the length'),
        (lambda: mha(x, key_padding_mask=np.ones((1, 3))),
         TypeError,
         'key_padding_mask must be bool (True = real token), got dtype float64'),
        (lambda: mha(x, key_padding_mask=np.ones((1, 4), bool)),
         ValueError,
         'key_padding_mask must have shape (batch, key_len) = (1, 3), got (1, 4)'),
        (lambda: mha(x, attn_mask=np.ones((2, 2, 3, 3), bool)),
         ValueError,
         'attn_mask of shape (2, 2, 3, 3) does not broadcast to (batch, heads, '
         'q_len, k_len) = (1, 2, 3, 3)'),
        (lambda: mha(x, x, kv_cache=KVCache()),
         ValueError,
         'kv_cache is for self-attention: pass key=None and value=None'),
        (lambda: KVCache().append(np.zeros((1, 2, 3)), np.zeros((1, 2, 3))),
         ValueError,
         'keys and values must be (batch, heads, length, head_dim) with matching '
         'leading dims, got (1, 2, 3) and (1, 2, 3)'),
        (lambda: grown.append(np.zeros((1, 2, 1, 5)), np.zeros((1, 2, 1, 4))),
         ValueError,
         'cannot append keys (1, 2, 1, 5) / values (1, 2, 1, 4) to a cache '
         'holding (1, 2) batch x heads with head_dim 4'),
        (lambda: attend(Tensor(np.zeros(4, np.float32)), q, q),
         ValueError,
         'query must have shape (..., seq_len, dim), got (4,)'),
        (lambda: attend(q, q, Tensor(np.zeros((2, 3, 4), np.int64))),
         TypeError,
         'value must be floating point, got dtype int64'),
        (lambda: attend(q, q, Tensor(np.zeros((2, 3, 4)), dtype=np.float64)),
         TypeError,
         'query, key and value must share a dtype, got float32, float32, float64'),
        (lambda: attend(q, Tensor(np.zeros((2, 3, 5), np.float32)), q),
         ValueError,
         'query and key must have the same feature size, got query (2, 3, 4) and '
         'key (2, 3, 5)'),
        (lambda: attend(q, q, Tensor(np.zeros((2, 2, 4), np.float32))),
         ValueError,
         'key and value must have the same length, got key (2, 3, 4) and value '
         '(2, 2, 4)'),
        (lambda: attend(q, q3, q),
         ValueError,
         'batch dimensions of query (2, 3, 4), key (3, 3, 4) and value (2, 3, 4) '
         'do not broadcast'),
        (lambda: attend(q, q, q3),
         ValueError,
         'batch dimensions of query (2, 3, 4), key (2, 3, 4) and value (3, 3, 4) '
         'do not broadcast'),
        (lambda: attend(q, Tensor(np.zeros((2, 3, 4), np.int64)), q),
         TypeError,
         'key must be floating point, got dtype int64'),
        (lambda: attend(q, q, q, attn_mask=np.array([0.0, np.inf, 0.0])),
         ValueError,
         'attn_mask is a float mask (added to the scores) and holds inf at position (1,): '
         'only finite values and -inf (may not attend) are allowed'),
        (lambda: attend(q, q, q, dropout_p=1.0),
         ValueError,
         'dropout_p must be in [0, 1), got 1.0'),
        (lambda: attend(q, q, q, attn_mask=np.ones((3, 3), bool), is_causal=True),
         ValueError,
         'pass either attn_mask or is_causal=True, not both (combine them into '
         'one mask)'),
        (lambda: attend(q, q, q, scale=float("inf")),
         ValueError,
         'scale must be a finite number or None, got inf'),
        (lambda: attend(q, q, q, scale=True),
         ValueError,
         'scale must be a finite number or None, got True'),
        (lambda: attend(q, q, q, attn_mask=np.where(np.eye(3) * [0, 1, 0], np.nan, 0.0)),
         ValueError,
         'attn_mask is a float mask (added to the scores) and holds nan at '
         'position (1, 1): only finite values and -inf (may not attend) are '
         'allowed'),
        (lambda: attend(q, q, q, attn_mask=np.ones((3, 3), np.int64)),
         TypeError,
         'attn_mask must be bool (True = may attend) or float (added to the '
         'scores), got dtype int64'),
        (lambda: attend(q, q, q, attn_mask=np.ones((4, 3), bool)),
         ValueError,
         "attn_mask of shape (4, 3) does not broadcast to the attention scores' "
         'shape (2, 3, 3) (query (2, 3, 4), key (2, 3, 4))'),
    ]
    cases += [
        (lambda: embedding_memory_bytes(0, 4),
         ValueError, 'vocab_size must be a positive integer, got 0'),
        (lambda: embedding_memory_bytes(4, 0),
         ValueError, 'embed_dim must be a positive integer, got 0'),
        (lambda: create_sinusoidal_embeddings(0, 4),
         ValueError, 'max_seq_len must be a positive integer, got 0'),
        (lambda: create_sinusoidal_embeddings(4, 0),
         ValueError, 'embed_dim must be a positive integer, got 0'),
        (lambda: SinusoidalPositionalEncoding(4, 4)(Tensor(np.zeros((1, 2, 3), np.float32))),
         ValueError, "SinusoidalPositionalEncoding: input of shape (1, 2, 3) does not match "
                     "the table's embed_dim 4 (expected shape (..., seq_len, 4))"),
        (lambda: Embedding.from_pretrained(np.zeros(3, np.float32)),
         ValueError, 'embeddings must be a 2-D (V, D) table, got shape (3,)'),
        (lambda: alibi_bias(2, 1, -1),
         ValueError, 'k_len must be a non-negative integer, got -1'),
        (lambda: BPETokenizer([(256, 97)]),
         ValueError, 'merge 0 [256, 97] references an id outside the tokens made before it: '
         "256 is neither a byte's id nor made by an earlier merge"),
        (lambda: BPETokenizer.train("\ue000a\ud800", vocab_size=300),
         ValueError, 'text is not encodable as UTF-8: lone surrogate U+D800 at index 2'),
        (lambda: BPETokenizer([], ["<pad>"]).encode_batch(["a"], add_bos=True),
         ValueError, 'BPETokenizer has no bos token'),
        (lambda: char.decode(np.array([0, 7, 2**70], dtype=object)),
         IndexOutOfRangeError, 'token id 7 at position 1 is out of range [0, 7)'),
        (lambda: concatenate([]),
         ValueError, 'concatenate needs at least one tensor'),
        (lambda: attend(q3, q, q),
         ValueError, 'batch dimensions of query (3, 3, 4), key (2, 3, 4) and value (2, 3, 4) '
                     'do not broadcast'),
        (lambda: MultiHeadAttention(0, 2),
         ValueError, 'embed_dim must be a positive integer, got 0'),
        (lambda: MultiHeadAttention(4, 0),
         ValueError, 'num_heads must be a positive integer, got 0'),
        (lambda: MultiHeadAttention(4, 2, vdim=0),
         ValueError, 'vdim must be a positive integer, got 0'),
        (lambda: mha(x, Tensor(np.zeros((1, 3, 5), np.float32))),
         ValueError, 'key must have shape (batch, seq, 4) for embed_dim=4, got (1, 3, 5)'),
        (lambda: mha(x, x, Tensor(np.zeros((1, 3, 5), np.float32))),
         ValueError, 'value must have shape (batch, seq, 4) for embed_dim=4, got (1, 3, 5)'),
        (lambda: mha(x, attn_mask=np.where(np.eye(3, dtype=bool), np.nan, 0.0)),
         ValueError, 'attn_mask is a float mask (added to the scores) and holds nan at '
                     'position (0, 0): only finite values and -inf (may not attend) are allowed'),
        (lambda: PositionalEncoding(0, 4),
         ValueError, 'max_seq_len must be a positive integer, got 0'),
        (lambda: PositionalEncoding(4, 0),
         ValueError, 'embed_dim must be a positive integer, got 0'),
        (lambda: PositionalEncoding(4, 4)(Tensor(np.zeros((1, 2, 3), np.float32))),
         ValueError, "PositionalEncoding: input of shape (1, 2, 3) does not match the table's "
                     "embed_dim 4 (expected shape (..., seq_len, 4))"),
        (lambda: alibi_bias(2, 1, 1, offset=-1),
         ValueError, 'offset must be a non-negative integer, got -1'),
        (lambda: PositionalEncoding(16, 8)(np.zeros((1, 4, 8), np.float32), offset=13),
         ValueError, 'sequence end 17 (offset 13 + length 4) exceeds maximum sequence length 16'),
        (lambda: Embedding(5, 2)([[1, 2], [3]]),
         ValueError, 'token ids must form a rectangular array (every row the same length), got '
                     'nested sequences of unequal lengths; pad them first '
                     '(Tokenizer.encode_batch)'),
        (lambda: Embedding(5, 2)(np.array([1.0])),
         TypeError, 'token ids must be integers, got dtype float64 (bool and floating-point ids '
                    'are rejected, even whole numbers; convert with .astype(np.int64) on purpose)'),
        (lambda: Embedding(5, 2)([-1]),
         IndexOutOfRangeError, 'token id -1 at position (0,) is out of range for an embedding '
                               'table of 5 rows: allowed ids are [0, 5) (negative ids are not '
                               'wrapped)'),
        (lambda: Embedding(5, 2, max_norm="1"),
         ValueError, "max_norm must be a positive number, got '1'"),
        (lambda: embedding([1], np.ones((5, 2), np.float32), max_norm=-1.0),
         ValueError, 'max_norm must be a positive number, got -1.0'),
        (lambda: Embedding(5, 2, padding_idx=True),
         TypeError, 'padding_idx must be an integer or None, got True'),
    ]
    # Ids beyond int64 (NumPy makes objects of them, or float64 next to a negative id), decoded
    # or embedded; the tables of a BPE numbered as a file numbers it; heads split with a size
    # that is not an integer; a 3-D attn_mask that is not (batch * heads, q_len, k_len).
    beyond = ('is out of range: token ids are int64 (at most 9223372036854775807), and no '
              'embedding table has that many rows')
    outside = 'outside the ids allowed, [0, 4194304)'
    cases += [
        (lambda: Embedding(5, 2)([[1, 2**64]]),
         IndexOutOfRangeError, f'token id 18446744073709551616 at position (0, 1) {beyond}'),
        (lambda: Embedding(5, 2)([-1, 2**63]),
         IndexOutOfRangeError, f'token id 9223372036854775808 at position (1,) {beyond}'),
        (lambda: Embedding(5, 2)([[-2**63, 2**64]]),
         IndexOutOfRangeError, f'token id 18446744073709551616 at position (0, 1) {beyond}'),
        (lambda: Embedding(5, 2)([2**63 - 1, 2**64]),
         IndexOutOfRangeError, f'token id 18446744073709551616 at position (1,) {beyond}'),
        (lambda: char.decode([5, 2**63]),
         IndexOutOfRangeError, 'token id 9223372036854775808 at position 1 is out of range '
                               '[0, 7)'),
        (lambda: char.decode(5.0),
         TypeError, 'token ids must be integers, got dtype float64'),
        (lambda: char.decode([True, False]),
         TypeError, 'token ids must be integers, got dtype bool'),
        (lambda: BPETokenizer([], byte_ids=[1.0, *range(1, 256)]),
         ValueError, 'byte_ids[0] must be an integer id, got 1.0'),
        (lambda: BPETokenizer([], byte_ids=range(255)),
         ValueError, 'byte_ids must give the ids of the 256 bytes, got 255 ids'),
        (lambda: BPETokenizer([], byte_ids=[0, 0, *range(2, 256)]),
         ValueError, 'byte_ids gives bytes 0 and 1 the same id'),
        (lambda: BPETokenizer([(97, 98)], merge_ids=[bpe_ids.MAX_VOCAB_SIZE]),
         ValueError, f'the id merge 0 creates is 4194304, {outside}'),
        (lambda: BPETokenizer([(97, 98)], merge_ids=[300, 301]),
         ValueError, 'merge_ids has 2 ids for 1 merges'),
        (lambda: BPETokenizer([(97, 98)], merge_ids=[99]),
         ValueError, "merge 0 [97, 98] creates id 99 as b'ab', but that id is already the "
                     "token b'c'"),
        (lambda: BPETokenizer([], {"": 300}),
         ValueError, "special tokens must be non-empty strings, got ''"),
        (lambda: BPETokenizer([], {"<x>": 97}),
         ValueError, "special token '<x>' has id 97, which is the token b'a'"),
        (lambda: BPETokenizer([], {"<x>": 300, "<y>": 300}),
         ValueError, "special tokens '<x>' and '<y>' share id 300"),
        (lambda: BPETokenizer([], {"<x>": -1}),
         ValueError, f"the id of special token '<x>' is -1, {outside}"),
        (lambda: BPETokenizer([], {"<x>": 300}, roles={"sep": "<x>"}),
         ValueError, "unknown role 'sep'; roles are ['pad', 'bos', 'eos']"),
        (lambda: BPETokenizer([], {"<x>": 300}, roles={"bos": "<s>"}),
         ValueError, "role 'bos' names '<s>', which is not a special token (they are ['<x>'])"),
        (lambda: x.reshape(1, 3, 2, 4 / 2),
         TypeError, 'reshape sizes must be integers, got 2.0 in (1, 3, 2, 2.0)'),
        (lambda: mha(x, attn_mask=np.ones((1, 3, 3), bool)),
         ValueError, 'a 3-D attn_mask must have shape (batch * num_heads, q_len, k_len) = '
                     '(2, 3, 3) as in PyTorch, got (1, 3, 3); use shape (1, 1, 3, 3) for one '
                     'mask per batch element'),
    ]
    for call, error, message in cases:
        with pytest.raises(error) as caught:
            call()
        assert str(caught.value) == message


def _in_attention(name, embed_dim, num_heads):
    """What the named positional scheme does inside attention (None for "none")."""
    return position_scheme(name).build_attention(embed_dim, num_heads)


@pytest.mark.parametrize("positions", [None, "rope", "alibi"])
def test_incremental_decoding_matches_the_full_sequence(positions) -> None:
    """Embedding offsets (Module 11) and the attention KV cache (12) agree: feeding a sequence
    in pieces of 3, 1 and 5 tokens gives the outputs of one causal pass over all of it."""
    manual_seed(12)
    layer = EmbeddingLayer(30, 8, max_seq_len=9, pos_encoding="sinusoidal")
    attention = MultiHeadAttention(8, num_heads=2, positions=_in_attention(positions, 8, 2))
    ids = np.random.default_rng(12).integers(0, 30, size=(2, 9))
    full = attention(layer(ids), is_causal=True).data
    cache, start, pieces = KVCache(), 0, []
    for size in (3, 1, 5):
        x = layer(ids[:, start: start + size], offset=start)
        pieces.append(attention(x, is_causal=True, kv_cache=cache).data)
        start += size
    assert cache.length == 9 and cache.keys.shape == (2, 2, 9, 4)
    assert cache.keys.dtype == cache.values.dtype == pieces[-1].dtype == np.float32
    np.testing.assert_allclose(np.concatenate(pieces, axis=1), full, rtol=1e-5, atol=1e-6)

    # Training through a cache: the last piece's gradient reaches its own embeddings only,
    # exactly as in a full pass where the cached positions are constants (float64 PyTorch).
    table = Embedding(30, 8)
    cache, upstream = KVCache(), np.random.default_rng(13).standard_normal((2, 5, 8))
    with no_grad():
        attention(table(ids[:, :4]) + Tensor(layer.position_encoding.pe.data[:4]),
                  is_causal=True, kv_cache=cache)
    last = table(ids[:, 4:]) + Tensor(layer.position_encoding.pe.data[4:])
    trained = attention(last, is_causal=True, kv_cache=cache)
    assert trained.dtype == np.float32
    (trained * Tensor(upstream)).sum().backward()
    params = {name: torch.tensor(p.data, dtype=torch.float64)
              for name, p in attention.named_parameters()}
    weight = torch.tensor(table.weight.data, dtype=torch.float64, requires_grad=True)
    x = weight[torch.tensor(ids)] + torch.tensor(layer.position_encoding.pe.data[:9])
    x = torch.cat([x[:, :4].detach(), x[:, 4:]], dim=1)
    out, _ = reference_attention(params, x, np.ones((2, 9), bool), 2, True, positions)
    (out[:, 4:] * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(table.weight.grad, weight.grad.numpy(), rtol=1e-3, atol=1e-5)


def test_attention_dropout_and_broadcast_batches() -> None:
    """The fused op's other paths: dropout (weights of 0 or p-scaled, gradients by central
    differences under the same seed), batch axes that broadcast, 1-D and float masks, and
    inputs that need no gradient."""
    rng = np.random.default_rng(13)
    q64, k64, v64 = (rng.standard_normal(s) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 3)))

    def run(*arrays: np.ndarray) -> tuple[Tensor, Tensor]:
        manual_seed(13)
        tensors = [Tensor(a, dtype=np.float64) for a in arrays]
        out, weights = scaled_dot_product_attention(*tensors, dropout_p=0.5,
                                                    return_weights=True)
        return out, weights

    out, weights = run(q64, k64, v64)
    plain = scaled_dot_product_attention(*(Tensor(a, dtype=np.float64) for a in (q64, k64, v64)),
                                         return_weights=True)[1].data
    kept = weights.data != 0
    assert 0.2 < kept.mean() < 0.8
    np.testing.assert_allclose(weights.data[kept], 2.0 * plain[kept], rtol=1e-12)
    np.testing.assert_allclose(out.data, weights.data @ v64, rtol=1e-12)
    upstream = rng.standard_normal(out.shape)
    tensors = [Tensor(a, dtype=np.float64, requires_grad=True) for a in (q64, k64, v64)]
    manual_seed(13)
    (scaled_dot_product_attention(*tensors, dropout_p=0.5) * Tensor(upstream)).sum().backward()
    for tensor, array in zip(tensors, (q64, k64, v64), strict=True):
        numeric = numerical_gradient(
            lambda: float((run(q64, k64, v64)[0].data * upstream).sum()), array)
        np.testing.assert_allclose(tensor.grad, numeric, rtol=1e-5, atol=1e-7)

    # Broadcast batch axes, a 1-D key mask and a float mask, against a float64 reference.
    q = torch.tensor(rng.standard_normal((2, 1, 3, 4)), requires_grad=True)
    k = torch.tensor(rng.standard_normal((1, 2, 5, 4)), requires_grad=True)
    v = torch.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    float_mask = rng.standard_normal((2, 2, 3, 5))
    float_mask[..., 2] = -np.inf
    for mask in (np.array([True, False, True, True, False]), float_mask):
        additive = torch.tensor(np.where(mask, 0.0, -np.inf) if mask.dtype == bool else mask)
        reference = torch.softmax(q @ k.transpose(-1, -2) / 2.0 + additive, -1) @ v
        mine = [Tensor(t.detach().numpy(), dtype=np.float64, requires_grad=True) for t in (q, k)]
        out = scaled_dot_product_attention(*mine, Tensor(v.detach().numpy(), dtype=np.float64),
                                           attn_mask=mask)  # v needs no gradient here
        grads = torch.autograd.grad((reference * 1.5).sum(), (q, k))
        (out * 1.5).sum().backward()
        np.testing.assert_allclose(out.data, reference.detach().numpy(), rtol=1e-10)
        for tensor, expected in zip(mine, grads, strict=True):
            np.testing.assert_allclose(tensor.grad, expected.numpy(), rtol=1e-9, atol=1e-12)


def test_sparse_scaled_and_renormalised_lookups() -> None:
    """The lookup's variants agree with the plain dense computation: row-sparse gradients
    (small and large tables, repeated ids, padding, frequency scaling, sums and scaling of
    gradients), max_norm in 1-, 2- and inf-norms, and sqrt(D)-scaled token vectors."""
    rng = np.random.default_rng(14)
    ids = np.array([[3, 1, 3, 0], [2, 3, 1, 1]])
    upstream = rng.standard_normal((2, 4, 5)).astype(np.float32)
    for rows in (4, 100):  # few rows: ids are counted; many: sorted
        for scale in (False, True):
            table = rng.standard_normal((rows, 5)).astype(np.float32)
            grads = []
            for sparse in (False, True):
                emb = Embedding.from_pretrained(table.copy(), freeze=False, padding_idx=0,
                                                scale_grad_by_freq=scale, sparse=sparse)
                (emb(ids) * Tensor(upstream)).sum().backward()
                grads.append(emb.weight.grad)
            dense, sparse_grad = grads
            expected = np.zeros((rows, 5))
            counts = np.bincount(ids.ravel(), minlength=rows)
            for position, token in np.ndenumerate(ids):
                if token:
                    expected[token] += upstream[position] / (counts[token] if scale else 1)
            np.testing.assert_allclose(dense, expected, rtol=1e-5, atol=1e-6)
            np.testing.assert_array_equal(sparse_grad.indices, [1, 2, 3])
            np.testing.assert_allclose(sparse_grad.values, expected[[1, 2, 3]], rtol=1e-5)
            np.testing.assert_allclose(np.asarray(sparse_grad), expected, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose((sparse_grad * 2.0).to_dense(), 2 * expected, rtol=1e-5,
                                       atol=1e-6)
            np.testing.assert_allclose((sparse_grad + sparse_grad).values,
                                       2 * expected[[1, 2, 3]], rtol=1e-5)
            np.testing.assert_allclose(sparse_grad + np.ones((rows, 5)), expected + 1,
                                       rtol=1e-5)
            for dense_form in (sparse_grad.to_dense(), np.asarray(sparse_grad),
                               sparse_grad + np.ones((rows, 5))):
                assert dense_form.dtype == np.float32
            assert np.asarray(sparse_grad, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError) as caught:
        RowSparseGrad(np.array([1, 2]), np.zeros((3, 5)), (10, 5))
    assert str(caught.value) == (
        "values of shape (3, 5) do not fit 2 rows of a table of shape (10, 5)")

    # The functional form: an array works as the table; dense gradients unless asked;
    # padding_idx counts from the end down to -V.
    table = np.arange(10.0, dtype=np.float32).reshape(5, 2)
    np.testing.assert_array_equal(embedding([4, 0], table).data, table[[4, 0]])
    weight = Tensor(table, requires_grad=True)
    embedding([1, 1], weight).sum().backward()
    assert isinstance(weight.grad, np.ndarray) and weight.grad[1].tolist() == [2.0, 2.0]
    assert Embedding(5, 2, padding_idx=-5).padding_idx == 0
    # from_pretrained: frozen, dense, unscaled, 2-norm unless asked.
    pretrained = Embedding.from_pretrained(np.eye(3, dtype=np.float32), max_norm=0.25)
    assert not pretrained.weight.requires_grad
    assert (pretrained.norm_type, pretrained.scale_grad_by_freq, pretrained.sparse) == (
        2.0, False, False)
    # max_norm renormalises exactly the looked-up rows that are too long, in the given norm,
    # to max_norm / (norm + 1e-7) as PyTorch does; a row exactly at max_norm stays.
    table = np.array([[0.3, 0.4], [0.0, 0.25]], dtype=np.float32)
    out = Embedding.from_pretrained(table.copy(), max_norm=0.25)(np.array([0, 1])).data
    np.testing.assert_allclose(out[0], np.array([0.3, 0.4]) * 0.25 / (0.5 + 1e-7), rtol=1.5e-7)
    np.testing.assert_array_equal(out[1], table[1])
    for norm in (1.0, 2.0, np.inf):
        table = np.array([[3.0, 4.0], [0.3, 0.4], [-6.0, 8.0], [1.0, 1.0]], dtype=np.float32)
        emb = Embedding.from_pretrained(table.copy(), max_norm=2.0, norm_type=norm)
        out = emb(np.array([0, 1, 0])).data
        norms = np.linalg.norm(table, ord=norm, axis=1)
        assert np.isclose(np.linalg.norm(out[0], ord=norm), 2.0, rtol=1e-6)
        np.testing.assert_allclose(out[0], table[0] * 2.0 / (norms[0] + 1e-7), rtol=1e-6)
        np.testing.assert_array_equal(out[1], table[1])  # short enough: untouched
        np.testing.assert_array_equal(emb.weight.data[2:], table[2:])  # not looked up
    # scale_embeddings multiplies token vectors by sqrt(D) before positions are added.
    layer = EmbeddingLayer(10, 16, max_seq_len=4, scale_embeddings=True)
    out = layer(np.array([7, 2])).data
    positions = layer.position_encoding.weight.data[:2]
    expected = layer.token_embedding.weight.data[[7, 2]] * 4.0 + positions
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_skip_gram_scores_train_both_tables() -> None:
    """word2vec's score, the dot product of a centre and a context embedding: the product
    sends each table the other table's rows as gradient, summed over repeated pairs."""
    rng = np.random.default_rng(15)
    centre, context = Embedding(6, 3), Embedding(6, 3)
    pairs = np.array([[1, 2], [1, 4], [5, 2]])
    upstream = rng.standard_normal(3).astype(np.float32)
    scores = (centre(pairs[:, 0]) * context(pairs[:, 1])).sum(axis=-1)
    (scores * Tensor(upstream)).sum().backward()
    a, b = centre.weight.data, context.weight.data
    np.testing.assert_allclose(scores.data, (a[pairs[:, 0]] * b[pairs[:, 1]]).sum(-1), rtol=1e-6)
    expected_a, expected_b = np.zeros_like(a), np.zeros_like(b)
    for (i, j), g in zip(pairs, upstream, strict=True):
        expected_a[i] += g * b[j]
        expected_b[j] += g * a[i]
    np.testing.assert_allclose(centre.weight.grad, expected_a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(context.weight.grad, expected_b, rtol=1e-5, atol=1e-6)
    # Every centre against every context word at once: a product with the transposed table.
    centre.weight.grad = context.weight.grad = None
    every = np.arange(6)
    (centre(every) @ context(every).T * Tensor(np.diag(np.arange(6.0)))).sum().backward()
    np.testing.assert_allclose(centre.weight.grad, b * np.arange(6.0)[:, None], rtol=1e-6)
    np.testing.assert_allclose(context.weight.grad, a * np.arange(6.0)[:, None], rtol=1e-6)


def test_causal_attention_function_matches_reference() -> None:
    """`scaled_dot_product_attention(is_causal=True)`: top-left aligned even when there are
    fewer keys than queries, in query blocks (40 queries), with an explicit scale, without
    batch axes, and with a 1-D key mask given as a list."""
    rng = np.random.default_rng(16)
    for q_shape, k_len in (((2, 40, 4), 40), ((2, 40, 4), 25), ((40, 4), 40)):
        q, k, v = (rng.standard_normal(s).astype(np.float32) for s in
                   (q_shape, (*q_shape[:-2], k_len, 4), (*q_shape[:-2], k_len, 3)))
        out, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v),
                                                    is_causal=True, scale=0.3,
                                                    return_weights=True)
        scores = (q @ np.swapaxes(k, -1, -2)).astype(np.float64) * 0.3
        scores[..., ~np.tri(q_shape[-2], k_len, dtype=bool)] = -np.inf
        expected = np.exp(scores - scores.max(-1, keepdims=True))
        expected /= expected.sum(-1, keepdims=True)
        assert out.dtype == np.float32
        np.testing.assert_allclose(weights.data, expected, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(out.data, expected @ v, rtol=1e-4, atol=1e-6)
    keys = [True, False, True, True, False]
    q, k = rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
    weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(k), attn_mask=keys,
                                           return_weights=True)[1].data
    assert weights.shape == (3, 5) and np.all(weights[:, [1, 4]] == 0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-6)


def test_position_schemes_known_answers() -> None:
    """RoPE, ALiBi and sinusoids called directly: the papers' numbers, any leading axes,
    arrays as well as tensors, offsets, and bases other than the default."""
    rope = RotaryEmbedding(4)  # pair 0 turns by p radians, pair 1 by p / 10000**(2/4) = p / 100
    out = rope(np.ones((2, 3, 4), dtype=np.float32))  # (heads, positions, head_dim), an array
    for p in range(3):
        c0, s0, c1, s1 = math.cos(p), math.sin(p), math.cos(p / 100), math.sin(p / 100)
        np.testing.assert_allclose(out.data[:, p], [[c0 - s0, s0 + c0, c1 - s1, s1 + c1]] * 2,
                                   rtol=1e-6, atol=1e-7)
    long = rope(Tensor(np.ones((8, 4)), dtype=np.float64))
    assert long.dtype == np.float64
    np.testing.assert_allclose(rope(Tensor(np.ones((1, 4)), dtype=np.float64), offset=5).data,
                               long.data[5:6], rtol=1e-12)
    slow = RotaryEmbedding(2, base=0.5)  # base < 1 is allowed: one pair turning by p
    np.testing.assert_allclose(slow(np.array([[1.0, 0.0], [1.0, 0.0]])).data,
                               [[1.0, 0.0], [math.cos(1.0), math.sin(1.0)]], rtol=1e-6, atol=1e-7)
    # ALiBi slopes (Press et al.): powers of two, and the interleaving rule otherwise.
    np.testing.assert_array_equal(alibi_slopes(6), [2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3])
    np.testing.assert_allclose(
        alibi_slopes(12), [2.0 ** -k for k in range(1, 9)] + [2.0 ** -(k + 0.5) for k in range(4)],
        rtol=1e-7)
    assert alibi_slopes(12).dtype == np.float32
    np.testing.assert_array_equal(  # queries at positions 2 and 3 of a cache, keys 0..3
        alibi_bias(2, 2, 4, offset=2),
        -np.array([[1 / 16], [1 / 256]])[:, :, None] * [[2, 1, 0, 1], [3, 2, 1, 0]])
    np.testing.assert_array_equal(alibi_bias(1, 2, 2), -np.array([[[0, 1], [1, 0]]]) / 256)
    assert alibi_bias(1, 2, 2).dtype == np.float32
    # Learned positions start as GPT-2's N(0, 0.02), float32.
    learned = PositionalEncoding(500, 40).weight.data
    assert learned.dtype == np.float32
    assert abs(learned.mean()) < 0.002 and abs(learned.std() - 0.02) < 0.001
    # EmbeddingLayer: its position scheme, limit and defaults, ids as nested lists, and
    # positional encodings applied to plain arrays.
    layer = EmbeddingLayer(10, 4)
    assert (layer.pos_encoding, layer.max_seq_len) == ("learned", 512)
    assert layer.position_encoding.weight.shape == (512, 4)
    assert EmbeddingLayer(10, 4, pos_encoding="rope").max_seq_len is None
    assert EmbeddingLayer(10, 4, max_seq_len=7, pos_encoding="sinusoidal").max_seq_len == 7
    np.testing.assert_array_equal(layer([[3, 1]]).data, layer(np.array([[3, 1]])).data)
    table = layer.position_encoding.weight.data
    np.testing.assert_array_equal(layer.position_encoding(np.ones((1, 2, 4), np.float32)).data,
                                  1.0 + table[None, :2])
    # Sinusoids with another base, in the function and in the layer.
    np.testing.assert_allclose(create_sinusoidal_embeddings(2, 2, base=0.5),
                               [[0.0, 1.0], [math.sin(1.0), math.cos(1.0)]], rtol=1e-6)
    np.testing.assert_array_equal(SinusoidalPositionalEncoding(6, 4, base=100.0).pe.data,
                                  create_sinusoidal_embeddings(6, 4, base=100.0))


def test_tokenizer_batches_fit_the_embedding() -> None:
    """encode_batch, the hand-over from Module 10 to 11: padding modes, truncation that keeps
    bos/eos, exact lengths, and every refusal; decoding the ids back, including the edges."""
    char = CharTokenizer.from_text("abc")  # a=4, b=5, c=6
    batch = char.encode_batch(["abc", "a"], max_length=3, truncation=True, add_bos=True,
                              add_eos=True)
    np.testing.assert_array_equal(batch.ids, [[2, 4, 3], [2, 4, 3]])
    np.testing.assert_array_equal(batch.lengths, [3, 3])
    assert batch.lengths.dtype == np.int64
    batch = char.encode_batch(["ab", "a"], max_length=4, padding="max_length")
    np.testing.assert_array_equal(batch.ids, [[4, 5, 0, 0], [4, 0, 0, 0]])
    np.testing.assert_array_equal(batch.attention_mask, [[1, 1, 0, 0], [1, 0, 0, 0]])
    np.testing.assert_array_equal(char.encode_batch(["ab", "a"], padding=True).ids,
                                  [[4, 5], [4, 0]])
    np.testing.assert_array_equal(char.encode_batch(["ab", "ba"], padding=False).ids,
                                  [[4, 5], [5, 4]])
    np.testing.assert_array_equal(char.encode_batch(["ab"], max_length=2).ids, [[4, 5]])
    np.testing.assert_array_equal(  # exactly enough room for bos and eos
        char.encode_batch([""], max_length=2, add_bos=True, add_eos=True).ids, [[2, 3]])
    assert char.encode_batch([""], max_length=0).ids.shape == (1, 0)
    assert char.encode_batch([]).ids.shape == (0, 0)
    for call, message in (
        (lambda: char.encode_batch("ab"),
         "encode_batch expects a sequence of strings, not a single str"),
        (lambda: char.encode_batch(["a"], padding="left"),
         "padding must be 'longest', 'max_length' or False, got 'left'"),
        (lambda: char.encode_batch(["a"], max_length=2.0),
         "max_length must be an int or None, got 2.0"),
        (lambda: char.encode_batch(["a"], max_length=-1), "max_length must be >= 0, got -1"),
        (lambda: char.encode_batch(["a"], padding="max_length"),
         "padding='max_length' needs max_length"),
        (lambda: char.encode_batch(["a"], truncation=True), "truncation=True needs max_length"),
        (lambda: char.encode_batch(["a"], max_length=1, add_bos=True, add_eos=True),
         "max_length=1 leaves no room for the bos/eos tokens"),
        (lambda: char.encode_batch(["abc"], max_length=2),
         "text 0 has 3 tokens, more than max_length=2; pass truncation=True to cut it"),
        (lambda: char.encode_batch(["ab", "abc"], padding=False),
         "padding=False needs equal lengths, but text 0 has 2 tokens and text 1 has 3"),
        (lambda: char.encode_batch(["abc", "ab"], padding=False),
         "padding=False needs equal lengths, but text 1 has 2 tokens and text 0 has 3"),
        (lambda: NoPadTokenizer("ab").encode_batch(["ab", "a"]),
         "NoPadTokenizer has no pad token, so it cannot pad"),
    ):
        with pytest.raises((TypeError, ValueError)) as caught:
            call()
        assert str(caught.value) == message
    np.testing.assert_array_equal(NoPadTokenizer("ab").encode_batch(["ab", "ba"]).ids,
                                  [[4, 5], [5, 4]])  # equal lengths need no pad
    # Decoding: specials are skipped by default (<unk> shows as U+FFFD) or named.
    assert char.decode([2, 0, 4, 1, 3]) == "a\ufffd"
    assert char.decode([2, 0, 4, 1, 3], skip_special_tokens=False) == "<bos><pad>a<unk><eos>"
    assert char.decode(np.int64(5)) == "b" and char.decode([]) == ""
    assert CharTokenizer.from_text("a\ud800").encode("\ud800a") == [5, 4]  # lone surrogate
    assert CharTokenizer("").encode("xy") == [1, 1]  # an empty alphabet: all unknown
    # BPE: the pre-split pattern keeps merges inside words; None lets them cross.
    across = [(116, 32)]  # "t "
    assert BPETokenizer(across).encode("cat sat") == list(b"cat sat")
    assert BPETokenizer(across, pattern=None).encode("cat sat") == [99, 97, 256, 115, 97, 116]
    trained = BPETokenizer.train("cat sat", vocab_size=256 + 1 + 4, pattern="gpt2")
    assert trained.pattern == "gpt2" and trained.merges == [(97, 116)]
    assert BPETokenizer([]).pattern == "gpt4"
    assert BPETokenizer.train("abc", vocab_size=260).merges == []  # room for specials only
    ids = trained.encode_array(" cat")
    assert ids.dtype == np.int64 and ids.tolist() == [32, 99, 256]
    assert trained.encode_array("<bos>", allowed_special="all").tolist() == [trained.bos_id]
    assert trained.decode([]) == "" and trained.decode([0]) == "\x00"
    assert BPETokenizer([(0, 0)]).encode("\x00\x00") == [256]  # byte 0 is an id like any


class NoPadTokenizer(CharTokenizer):
    """A tokenizer without a padding token (possible for subclasses of Tokenizer)."""

    pad_id = None


def test_attention_options_match_reference() -> None:
    """MultiHeadAttention's other ways in: an attn_mask (bool, float, 3-D) on top of padding,
    cross-attention with its own key and value sizes, no biases, sequence-first tensors, a
    Tensor or list as padding mask, and causal only when asked."""
    manual_seed(17)
    rng = np.random.default_rng(17)
    x = rng.standard_normal((2, 5, 4)).astype(np.float32)
    real = [[True] * 5, [False, True, True, True, True]]
    allowed = rng.random((2, 2, 5, 5)) > 0.3
    allowed[..., 1] = True  # every query may see key 1, a real token in both rows
    attention = MultiHeadAttention(4, num_heads=2)
    params = {name: torch.tensor(p.data, dtype=torch.float64)
              for name, p in attention.named_parameters()}
    x64 = torch.tensor(x, dtype=torch.float64)
    plain = attention(x, key_padding_mask=Tensor(np.array(real))).data
    np.testing.assert_allclose(plain, reference_attention(params, x64, np.array(real), 2, False,
                                                          None)[0].numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(attention(x, key_padding_mask=real).data, plain)
    # PyTorch's 3-D layout (batch * heads, Lq, Lk) is batch-major: the same mask reshaped.
    for mask in (allowed, np.where(allowed, 0.5, -np.inf), allowed.reshape(4, 5, 5)):
        out = attention(x, key_padding_mask=real, attn_mask=mask).data
        q, k, v = (torch.tensor(x, dtype=torch.float64) @ params[f"{n}.weight"].T
                   + params[f"{n}.bias"] for n in ("q_proj", "k_proj", "v_proj"))
        q, k, v = (t.reshape(2, 5, 2, 2).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-1, -2) / 2**0.5 + torch.tensor(
            np.where(allowed & np.array(real)[:, None, None, :], 0.0, -np.inf))
        merged = (torch.softmax(scores, -1) @ v).transpose(1, 2).reshape(2, 5, 4)
        expected = merged @ params["out_proj.weight"].T + params["out_proj.bias"]
        np.testing.assert_allclose(out, expected.numpy(), rtol=1e-4, atol=1e-5)
    # Cross-attention: 3 queries of size 4 over 6 keys of size 3 and values of size 5.
    cross = MultiHeadAttention(4, num_heads=2, kdim=3, vdim=5, bias=False)
    assert [name for name, _ in cross.named_parameters()] == [
        "q_proj.weight", "k_proj.weight", "v_proj.weight", "out_proj.weight"]
    keys, values = rng.standard_normal((2, 6, 3)), rng.standard_normal((2, 6, 5))
    out = cross(x[:, :3], Tensor(keys), Tensor(values)).data
    w = {name: p.data.astype(np.float64) for name, p in cross.named_parameters()}
    q = (x[:, :3] @ w["q_proj.weight"].T).reshape(2, 3, 2, 2).transpose(0, 2, 1, 3)
    k = (keys @ w["k_proj.weight"].T).reshape(2, 6, 2, 2).transpose(0, 2, 1, 3)
    v = (values @ w["v_proj.weight"].T).reshape(2, 6, 2, 2).transpose(0, 2, 1, 3)
    scores = q @ k.transpose(0, 1, 3, 2) / 2**0.5
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    merged = (weights @ v).transpose(0, 2, 1, 3).reshape(2, 3, 4)
    np.testing.assert_allclose(out, merged @ w["out_proj.weight"].T, rtol=1e-4, atol=1e-5)
    # Sequence-first input gives the same numbers, transposed; no is_causal means no mask.
    seq_first = MultiHeadAttention(4, num_heads=2, batch_first=False)
    seq_first.load_state_dict(attention.state_dict())
    np.testing.assert_allclose(seq_first(x.transpose(1, 0, 2)).data.transpose(1, 0, 2),
                               attention(x).data, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(attention(x).data, reference_attention(
        params, x64, np.ones((2, 5), bool), 2, False, None)[0].numpy(), rtol=1e-4, atol=1e-5)


def test_attention_gradients_for_each_input_and_dropout_mode() -> None:
    """The fused backward when only some of q, k, v need a gradient (each alone, over causal
    query blocks), a value with more batch axes than the query, a broadcast batch big enough
    to be split over threads, and MultiHeadAttention's dropout: on in training, off in eval."""
    from tinytorch.core import parallel

    rng = np.random.default_rng(18)
    q, k, v = (rng.standard_normal(s) for s in ((2, 40, 4), (2, 40, 4), (2, 40, 3)))
    upstream = rng.standard_normal((2, 40, 3))
    full = [Tensor(a, dtype=np.float64, requires_grad=True) for a in (q, k, v)]
    (scaled_dot_product_attention(*full, is_causal=True) * Tensor(upstream)).sum().backward()
    for needed in range(3):
        alone = [Tensor(a, dtype=np.float64, requires_grad=i == needed)
                 for i, a in enumerate((q, k, v))]
        out = scaled_dot_product_attention(*alone, is_causal=True)
        (out * Tensor(upstream)).sum().backward()
        np.testing.assert_allclose(alone[needed].grad, full[needed].grad, rtol=1e-12)
    # Values with an extra batch axis broadcast the output to it.
    q2, k2, v3 = rng.standard_normal((5, 4)), rng.standard_normal((6, 4)), rng.standard_normal(
        (3, 6, 2))
    out = scaled_dot_product_attention(*(Tensor(a, dtype=np.float64) for a in (q2, k2, v3)))
    scores = q2 @ k2.T / 2.0
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    np.testing.assert_allclose(out.data, weights @ v3, rtol=1e-12)
    # A batch of 4 queries against 1 shared key/value set, 2**19 scores: split over threads
    # only where the batch axes agree.
    threads = parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        qb, kb, vb = (rng.standard_normal(s).astype(np.float32) for s in
                      ((4, 2, 256, 4), (1, 2, 256, 4), (1, 2, 256, 3)))
        out = scaled_dot_product_attention(Tensor(qb), Tensor(kb), Tensor(vb)).data
    finally:
        parallel.set_num_threads(threads)
    scores = qb.astype(np.float64) @ np.swapaxes(kb, -1, -2) / 2.0
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    np.testing.assert_allclose(out, weights / weights.sum(-1, keepdims=True) @ vb, rtol=1e-4,
                               atol=1e-6)
    # MultiHeadAttention's dropout drops weights in training mode only.
    manual_seed(18)
    attention = MultiHeadAttention(4, num_heads=2, dropout=0.5)
    x = rng.standard_normal((2, 6, 4)).astype(np.float32)
    _, dropped = attention(x, need_weights=True)
    assert 0.2 < (dropped.data == 0).mean() < 0.8
    attention.eval()
    out, kept = attention(x, need_weights=True)
    assert np.all(kept.data > 0)
    np.testing.assert_allclose(kept.data.sum(-1), 1.0, rtol=1e-5)
    assert np.isfinite(out.data).all()


def test_engine_hands_each_leaf_its_own_gradient() -> None:
    """The engine under an embedding's gradient: fan-in sums, views, read-only broadcasts and
    the caller's own gradient array never alias a leaf's `.grad`; misuse is refused clearly;
    a new thread records graphs as the main one does."""
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = Tensor([4.0, 5.0, 6.0], requires_grad=True)
    (a + b).sum().backward()  # Add hands one array to both inputs
    assert a.grad is not b.grad and a.grad.flags.owndata and a.grad.flags.writeable
    a.grad *= 10.0  # e.g. gradient clipping in place
    np.testing.assert_array_equal(b.grad, [1.0, 1.0, 1.0])
    # Shared intermediates: p1 feeds two sums, p2 shares an array with p1's first gradient.
    x = Tensor([1.0, 2.0], requires_grad=True)
    p1, p2 = x * 2.0, x * 3.0
    ((p1 + p2) + p1).sum().backward()
    np.testing.assert_array_equal(x.grad, [7.0, 7.0])
    # A view (reshape) and a read-only broadcast (sum) meet at one tensor.
    y = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    z = y * 1.0
    (z.reshape(6) * Tensor(np.arange(6.0))).sum().backward(retain_graph=True)
    first = y.grad.copy()
    z.sum().backward()
    np.testing.assert_array_equal(first, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(y.grad, first + 1.0)
    # The caller's gradient array stays the caller's.
    w = Tensor(np.zeros((2, 2)), requires_grad=True)
    given = np.ones((2, 2), dtype=np.float32)
    (w + 0.0).backward(given)
    assert w.grad is not given
    w.grad[...] = 5.0
    np.testing.assert_array_equal(given, 1.0)
    (w + 0.0).backward(Tensor(given))  # a Tensor works as the gradient too
    np.testing.assert_array_equal(w.grad, 6.0)
    for call, error, message in (
        (lambda: Tensor([1.0]).backward(), RuntimeError,
         "backward() called on a tensor that does not require grad: no input of the "
         "computation had requires_grad=True (or it was computed under no_grad())."),
        (lambda: (x * 2.0).backward(), RuntimeError,
         "backward() without a gradient needs a scalar output, got shape (2,); pass "
         "backward(grad) with a gradient of that shape."),
        (lambda: (x * 2.0).backward(np.ones(3)), ValueError,
         "gradient shape (3,) does not match output (2,)"),
    ):
        with pytest.raises(error) as caught:
            call()
        assert str(caught.value) == message
    # Python numbers take a float partner's dtype (no rounding through float32); mixed dtypes
    # promote as in PyTorch; a (1, 1) operand's gradient sums every broadcast axis.
    exact = Tensor([1.0], dtype=np.float64)
    assert (exact * 1.0001).item() == 1.0001 and (1.0001 * exact).item() == 1.0001
    assert (Tensor([1.0]) + exact).dtype == np.float64
    assert (Tensor([1]) + Tensor(np.array([2], np.int32))).dtype == np.int64
    single = Tensor([1.0], requires_grad=True)  # float32, meeting a float64 operand
    (single + exact).sum().backward()
    assert single.grad.dtype == np.float32 and single.grad.tolist() == [1.0]
    shifted = Tensor([1, 2]) + 1
    assert shifted.dtype == np.int64 and shifted.tolist() == [2, 3]
    small = Tensor(np.ones((1, 1)), requires_grad=True)
    (small * Tensor(np.arange(15.0).reshape(1, 3, 5))).sum().backward()
    np.testing.assert_array_equal(small.grad, [[105.0]])
    recorded = []
    worker = threading.Thread(target=lambda: recorded.append((x * 2.0).requires_grad))
    worker.start()
    worker.join()
    assert recorded == [True]


def test_attention_bias_and_blocks_at_the_edges() -> None:
    """ALiBi with a shared causal attn_mask on a batch split over two threads (the bias has no
    batch axis, or a size-1 one, and must not be sliced with the batch); causal
    cross-attention where whole blocks of queries see no key; no dropout, no random draws."""
    from tinytorch.core import parallel

    manual_seed(19)
    rng = np.random.default_rng(19)
    attention = MultiHeadAttention(8, num_heads=2, positions=_in_attention("alibi", 8, 2))
    params = {name: torch.tensor(p.data, dtype=torch.float64)
              for name, p in attention.named_parameters()}
    x = rng.standard_normal((4, 256, 8)).astype(np.float32)  # 4 * 2 * 256**2 = 2**19 scores
    everything = np.ones((4, 256), bool)
    threads = parallel.get_num_threads()
    parallel.set_num_threads(2)
    try:
        causal = attention(x, attn_mask=np.tri(256, dtype=bool)[None, None]).data
        full = attention(x).data
    finally:
        parallel.set_num_threads(threads)
    x64 = torch.tensor(x, dtype=torch.float64)
    for out, is_causal in ((causal, True), (full, False)):
        expected = reference_attention(params, x64, everything, 2, is_causal, "alibi")[0]
        np.testing.assert_allclose(out, expected.numpy(), rtol=1e-4, atol=1e-5)
    # 40 queries over 10 keys, causal (bottom-right): queries 0..29 see nothing at all.
    cross = MultiHeadAttention(8, num_heads=2)
    keys = rng.standard_normal((1, 10, 8)).astype(np.float32)
    out, weights = cross(x[:1, :40], keys, is_causal=True, need_weights=True)
    np.testing.assert_array_equal(weights.data[0, :, :30], 0.0)
    np.testing.assert_allclose(out.data[0, :30], np.broadcast_to(cross.out_proj.bias.data,
                                                                 (30, 8)), rtol=1e-6)
    visible = np.tri(10, dtype=bool)  # query 30 + i sees keys 0..i
    np.testing.assert_allclose(weights.data[0, :, 30:].sum(-1), 1.0, rtol=1e-5)
    assert np.all((weights.data[0, :, 30:] > 0) == visible)
    # Attention without dropout leaves the generator where it was (evaluation passes between
    # training steps must not change a seeded run).
    manual_seed(20)
    cross(x[:1, :40], keys, is_causal=True)
    assert default_generator().random() == np.random.default_rng(20).random()
