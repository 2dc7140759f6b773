"""Embedding against torch.nn.Embedding / F.embedding: values, gradients and every option."""

import numpy as np
import pytest
import torch
import torch.nn.functional as torch_F

from tinytorch.core.layers import linear
from tinytorch.core.random import manual_seed
from tinytorch.core.sparse import RowSparseGrad
from tinytorch.core.tensor import Tensor
from tinytorch.text.embeddings import Embedding, embedding

RTOL, ATOL = 1e-4, 1e-5

# (vocab_size, embed_dim, ids shape): a 1-D batch, a (B, T) batch, a 3-D batch, a tiny table that
# forces many duplicates, a table much larger than the batch (distinct rows found by sorting), and
# a character-level batch big enough for the dense backward to sum blocks of positions.
SHAPES = [
    (50, 8, (17,)),
    (120, 16, (4, 9)),
    (30, 5, (2, 3, 4)),
    (3, 7, (6, 5)),
    (1000, 4, (3, 5)),
    (65, 384, (32, 512)),
]


def _pair(rng, vocab_size, embed_dim, **options):
    """A tinytorch and a torch Embedding holding the same float32 table."""
    table = rng.standard_normal((vocab_size, embed_dim)).astype(np.float32)
    ours = Embedding.from_pretrained(table.copy(), freeze=False, **options)
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(table), freeze=False, **options)
    return ours, theirs


def _run(ours, theirs, ids, upstream):
    """Forward both, back-propagate the same upstream gradient, return (ours, theirs) outputs."""
    out = ours(ids)
    out.backward(upstream)
    torch_out = theirs(torch.from_numpy(ids))
    torch_out.backward(torch.from_numpy(upstream))
    return out, torch_out


def _dense(grad):
    return grad.to_dense() if isinstance(grad, RowSparseGrad) else grad


@pytest.mark.parametrize("vocab_size, embed_dim, ids_shape", SHAPES)
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"padding_idx": 0},
        {"padding_idx": -1},
        {"scale_grad_by_freq": True},
        {"padding_idx": 2, "scale_grad_by_freq": True},
        {"sparse": True},
        {"sparse": True, "padding_idx": 1},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "plain",
)
def test_forward_and_weight_gradient_match_torch(rng, vocab_size, embed_dim, ids_shape, options):
    ours, theirs = _pair(rng, vocab_size, embed_dim, **options)
    ids = rng.integers(0, vocab_size, ids_shape)
    ids.flat[:3] = min(2, vocab_size - 1)  # make sure some ids (and the padding ids) repeat
    upstream = rng.standard_normal((*ids_shape, embed_dim)).astype(np.float32)
    out, torch_out = _run(ours, theirs, ids, upstream)

    assert out.shape == tuple(torch_out.shape) == (*ids_shape, embed_dim)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, torch_out.detach().numpy())
    grad, torch_grad = ours.weight.grad, theirs.weight.grad
    assert isinstance(grad, RowSparseGrad) == options.get("sparse", False) == torch_grad.is_sparse
    assert _dense(grad).dtype == np.float32
    np.testing.assert_allclose(_dense(grad), torch_grad.to_dense().numpy(), rtol=RTOL, atol=ATOL)


def test_padding_row_never_receives_gradient(rng):
    ours = Embedding(10, 4, padding_idx=-3)  # normalised like torch: row 7
    assert ours.padding_idx == 7
    np.testing.assert_array_equal(ours.weight.data[7], np.zeros(4, np.float32))
    ids = np.array([[7, 7, 1], [7, 2, 1]])
    ours(ids).backward(rng.standard_normal((2, 3, 4)).astype(np.float32))
    np.testing.assert_array_equal(ours.weight.grad[7], np.zeros(4, np.float32))
    assert np.abs(ours.weight.grad[[1, 2]]).min() > 0


def test_sparse_gradient_lists_each_used_row_once_sorted_without_padding(rng):
    ours = Embedding(20, 3, padding_idx=4, sparse=True)
    ids = np.array([9, 4, 2, 9, 9, 17, 2, 4])
    upstream = rng.standard_normal((8, 3)).astype(np.float32)
    ours(ids).backward(upstream)
    grad = ours.weight.grad
    np.testing.assert_array_equal(grad.indices, [2, 9, 17])
    np.testing.assert_allclose(grad.values[1], upstream[[0, 3, 4]].sum(axis=0), rtol=1e-6)
    assert grad.shape == (20, 3)


def test_sparse_and_dense_agree_with_scale_grad_by_freq(rng):
    # torch refuses sparse + scale_grad_by_freq; ours supports it, so compare with its dense twin.
    dense, _ = _pair(rng, 12, 4, scale_grad_by_freq=True, padding_idx=3)
    sparse = Embedding.from_pretrained(
        dense.weight.data.copy(), freeze=False, scale_grad_by_freq=True, padding_idx=3, sparse=True
    )
    ids = rng.integers(0, 12, (5, 6))
    upstream = rng.standard_normal((5, 6, 4)).astype(np.float32)
    dense(ids).backward(upstream)
    sparse(ids).backward(upstream)
    np.testing.assert_allclose(sparse.weight.grad.to_dense(), dense.weight.grad, rtol=1e-6)


def test_duplicates_accumulate_exactly(rng):
    ours = Embedding(6, 2)
    upstream = np.arange(10, dtype=np.float32).reshape(5, 2)
    ours([1, 4, 1, 1, 0]).backward(upstream)
    expected = np.zeros((6, 2), np.float32)
    expected[1] = upstream[0] + upstream[2] + upstream[3]
    expected[4], expected[0] = upstream[1], upstream[4]
    np.testing.assert_array_equal(ours.weight.grad, expected)


def test_scale_grad_by_freq_divides_by_count_in_batch():
    ours = Embedding(4, 2, scale_grad_by_freq=True)
    ours([3, 3, 3, 1]).backward(np.ones((4, 2), np.float32))
    np.testing.assert_allclose(ours.weight.grad, [[0, 0], [1, 1], [0, 0], [1, 1]])


@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, float("inf")])
@pytest.mark.parametrize("sparse", [False, True])
def test_max_norm_renormalises_looked_up_rows_in_place_like_torch(rng, norm_type, sparse):
    ours, theirs = _pair(rng, 15, 6, max_norm=1.3, norm_type=norm_type, sparse=sparse)
    before = ours.weight.data.copy()
    ids = np.array([[0, 3, 3], [7, 0, 11]])
    upstream = rng.standard_normal((2, 3, 6)).astype(np.float32)
    out, torch_out = _run(ours, theirs, ids, upstream)

    np.testing.assert_allclose(ours.weight.data, theirs.weight.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(out.data, torch_out.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        _dense(ours.weight.grad), theirs.weight.grad.to_dense().numpy(), rtol=RTOL, atol=ATOL
    )
    looked_up = np.unique(ids)
    norms = np.linalg.norm(ours.weight.data[looked_up], ord=norm_type, axis=1)
    assert norms.max() <= 1.3 * (1 + 1e-6)  # float32 rounding of the rescaled row
    assert not np.array_equal(ours.weight.data[looked_up], before[looked_up])
    untouched = np.setdiff1d(np.arange(15), looked_up)
    np.testing.assert_array_equal(ours.weight.data[untouched], before[untouched])


def test_max_norm_keeps_torchs_epsilon(rng):
    """scale = max_norm / (norm + 1e-7): in float64 the epsilon is visible, and torch agrees."""
    table = rng.standard_normal((4, 3)) * 3.0
    ours = Embedding.from_pretrained(Tensor(table.copy(), dtype=np.float64), max_norm=1.0)
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(table), max_norm=1.0)
    ours([0, 2])
    theirs(torch.tensor([0, 2]))
    np.testing.assert_allclose(ours.weight.data, theirs.weight.numpy(), rtol=1e-13)
    norms = np.linalg.norm(table[[0, 2]], axis=1)
    assert norms.min() > 1.0  # both rows are renormalised
    np.testing.assert_allclose(
        np.linalg.norm(ours.weight.data[[0, 2]], axis=1), norms / (norms + 1e-7), rtol=1e-13
    )


def test_functional_embedding_matches_torch(rng):
    weight = Tensor(rng.standard_normal((9, 3)).astype(np.float32), requires_grad=True)
    torch_weight = torch.tensor(weight.data.copy(), requires_grad=True)
    ids = rng.integers(0, 9, (4, 5))
    upstream = rng.standard_normal((4, 5, 3)).astype(np.float32)
    out = embedding(ids, weight, padding_idx=-2, max_norm=1.0)
    torch_out = torch_F.embedding(
        torch.from_numpy(ids), torch_weight, padding_idx=-2 + 9, max_norm=1.0
    )
    out.backward(upstream)
    torch_out.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(out.data, torch_out.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(weight.grad, torch_weight.grad.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("sparse", [False, True])
def test_weight_tying_accumulates_embedding_and_output_gradients(rng, sparse):
    """The same table embeds ids and projects hidden states to logits (GPT-2's tied head)."""
    ours, theirs = _pair(rng, 11, 5, sparse=sparse)
    ids = rng.integers(0, 11, (3, 4))
    upstream = rng.standard_normal((3, 4, 11)).astype(np.float32)
    logits = linear(ours(ids), ours.weight)
    logits.backward(upstream)
    torch_logits = torch_F.linear(theirs(torch.from_numpy(ids)), theirs.weight)
    torch_logits.backward(torch.from_numpy(upstream))

    np.testing.assert_allclose(logits.data, torch_logits.detach().numpy(), rtol=RTOL, atol=ATOL)
    grad = np.asarray(ours.weight.grad)
    np.testing.assert_allclose(grad, theirs.weight.grad.to_dense().numpy(), rtol=RTOL, atol=ATOL)
    # Both paths contribute: neither gradient alone reproduces the sum.
    only_head = upstream.reshape(-1, 11).T @ ours(ids).data.reshape(-1, 5)
    assert not np.allclose(grad, only_head, atol=1e-3)


def test_gradients_accumulate_across_backward_calls(rng):
    ours, theirs = _pair(rng, 7, 3)
    for _ in range(2):
        ids = rng.integers(0, 7, 5)
        upstream = rng.standard_normal((5, 3)).astype(np.float32)
        _run(ours, theirs, ids, upstream)
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize(
    "ids",
    [np.int64(3), np.zeros((0,), np.int64), np.zeros((2, 0), np.int64)],
    ids=["0-d", "empty", "empty-2d"],
)
def test_zero_dim_and_empty_ids_match_torch(rng, ids, sparse):
    ours, theirs = _pair(rng, 5, 4, sparse=sparse)
    upstream = rng.standard_normal((*np.shape(ids), 4)).astype(np.float32)
    out, torch_out = _run(ours, theirs, np.asarray(ids), upstream)
    assert out.shape == tuple(torch_out.shape) == (*np.shape(ids), 4)
    np.testing.assert_array_equal(out.data, torch_out.detach().numpy())
    np.testing.assert_allclose(_dense(ours.weight.grad), theirs.weight.grad.to_dense().numpy())


def test_index_inputs_of_every_kind_give_the_same_rows(rng):
    ours = Embedding(10, 3)
    expected = ours.weight.data[[[1, 2], [3, 9]]]
    for ids in (
        [[1, 2], [3, 9]],
        np.array([[1, 2], [3, 9]], np.int32),
        np.array([[1, 2], [3, 9]], np.uint8),
        Tensor([[1, 2], [3, 9]]),
    ):
        np.testing.assert_array_equal(ours(ids).data, expected)
    assert ours([]).shape == (0, 3)


def test_from_pretrained_freezes_by_default_and_keeps_table_as_given():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    frozen = Embedding.from_pretrained(table, padding_idx=1)
    torch_frozen = torch.nn.Embedding.from_pretrained(torch.tensor(table), padding_idx=1)
    assert frozen.weight.requires_grad is torch_frozen.weight.requires_grad is False
    np.testing.assert_array_equal(frozen.weight.data[1], [3, 4, 5])  # padding row not zeroed
    assert not frozen([1, 2]).requires_grad
    trainable = Embedding.from_pretrained(Tensor(table, dtype=np.float64), freeze=False)
    assert trainable.weight.requires_grad and trainable.weight.dtype == np.float64
    assert (trainable.num_embeddings, trainable.embedding_dim) == (4, 3)


def test_initialisation_is_standard_normal_float32_and_seeded():
    manual_seed(7)
    first = Embedding(vocab_size=400, embed_dim=50, padding_idx=3)
    manual_seed(7)
    second = Embedding(400, 50, padding_idx=3)
    np.testing.assert_array_equal(first.weight.data, second.weight.data)
    weights = np.delete(first.weight.data, 3, axis=0)
    assert first.weight.dtype == np.float32
    assert abs(weights.mean()) < 0.02 and abs(weights.std() - 1.0) < 0.02
    assert (first.vocab_size, first.embed_dim) == (first.num_embeddings, first.embedding_dim)
    assert [name for name, _ in first.named_parameters()] == ["weight"]
    assert set(first.state_dict()) == set(torch.nn.Embedding(4, 2).state_dict()) == {"weight"}
