"""Ops split over threads give bit-identical results at every thread count.

Attention (per batch slice), tanh-GELU, LayerNorm and the embedding lookup (per row range) and
the row sums of the embedding's gradients (per block of positions) run their slices on
`tinytorch.core.parallel`'s threads; each slice is computed exactly as it would be alone, so
forward values and gradients must not change by a single bit with the thread count.
"""

import time

import numpy as np
import pytest

from tinytorch.core import parallel
from tinytorch.core.attention import scaled_dot_product_attention
from tinytorch.core.layers import LayerNorm
from tinytorch.core.random import manual_seed
from tinytorch.core.tensor import Tensor
from tinytorch.text.embeddings import Embedding


@pytest.fixture
def threads():
    """Set the thread count for one test and restore it afterwards."""
    before = parallel.get_num_threads()
    yield parallel.set_num_threads
    parallel.set_num_threads(before)


def _arrays(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape).astype(np.float32) for shape in shapes]


def _attention_results(dropout_p):
    q, k, v, upstream = _arrays(*[(6, 4, 256, 8)] * 4)  # 1.5M scores: worth 3 threads
    tensors = [Tensor(a, requires_grad=True) for a in (q, k, v)]
    manual_seed(0)
    out = scaled_dot_product_attention(*tensors, is_causal=True, dropout_p=dropout_p)
    out.backward(upstream)
    return [out.data] + [t.grad for t in tensors]


def _gelu_results():
    (x, upstream) = _arrays((8, 100, 1000), (8, 100, 1000))  # big enough for 3 pieces
    t = Tensor(x, requires_grad=True)
    out = t.gelu("tanh")
    out.backward(upstream)
    return [out.data, t.grad]


def _layer_norm_results():
    (x, upstream) = _arrays((16, 128, 384), (16, 128, 384))
    manual_seed(0)
    norm = LayerNorm(384)
    norm.weight.data[...] = _arrays((384,), seed=1)[0]
    t = Tensor(x, requires_grad=True)
    out = norm(t)
    out.backward(upstream)
    return [out.data, t.grad, norm.weight.grad, norm.bias.grad]


def _embedding_results(sparse=False):
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 65, (32, 512))  # 16,384 ids: four blocks of positions in backward
    (upstream,) = _arrays((32, 512, 384))
    manual_seed(0)
    table = Embedding(65, 384, padding_idx=3, sparse=sparse)
    out = table(ids)
    out.backward(upstream)
    grad = table.weight.grad
    return [out.data, grad.indices, grad.values] if sparse else [out.data, grad]


@pytest.mark.parametrize(
    "compute",
    [
        lambda: _attention_results(0.0),
        lambda: _attention_results(0.2),
        _gelu_results,
        _layer_norm_results,
        _embedding_results,
        lambda: _embedding_results(sparse=True),
    ],
    ids=[
        "attention",
        "attention-dropout",
        "gelu-tanh",
        "layer-norm",
        "embedding",
        "embedding-sparse",
    ],
)
def test_results_do_not_depend_on_the_thread_count(threads, compute):
    threads(1)
    serial = compute()
    for count in (2, 3):
        threads(count)
        for ours, reference in zip(compute(), serial, strict=True):
            np.testing.assert_array_equal(ours, reference)


@pytest.fixture
def pieces_per_call(monkeypatch):
    """The number of pieces of every `parallel_map` call made through the given modules."""
    seen = []
    original = parallel.parallel_map

    def recording_map(function, pieces):
        seen.append(len(pieces))
        return original(function, pieces)

    def record(*modules):
        for module in modules:
            monkeypatch.setattr(f"{module}.parallel_map", recording_map)
        return seen

    return record


def test_attention_splits_its_batch_over_the_threads(threads, pieces_per_call):
    seen = pieces_per_call("tinytorch.core.scaled_dot_product")
    threads(3)
    _attention_results(0.0)
    assert seen == [3, 3]  # forward and backward, three batch slices each
    seen.clear()
    _attention_results(0.2)  # dropout: one slice, so masks are drawn in one order
    assert seen == [1, 1]


def test_embedding_lookup_and_both_row_sums_use_the_threads(threads, pieces_per_call):
    seen = pieces_per_call("tinytorch.core.parallel", "tinytorch.core.sparse")
    threads(2)
    _embedding_results()
    assert seen == [2, 4]  # forward: two row ranges; backward: four blocks of positions
    seen.clear()
    _embedding_results(sparse=True)  # backward hands rows over; reading them sums the blocks
    assert seen == [2, 4]


def test_split_range_covers_everything_once():
    for length in (0, 1, 5, 17):
        for parts in (1, 2, 3, 8):
            pieces = parallel.split_range(length, parts)
            covered = [i for piece in pieces for i in range(length)[piece]]
            assert covered == list(range(length))
            assert len(pieces) == max(1, min(parts, length))


def test_every_piece_runs_once_and_results_keep_piece_order(threads):
    threads(3)
    calls = []

    def square(piece):
        calls.append(piece)
        return piece * piece

    assert parallel.parallel_map(square, range(10)) == [i * i for i in range(10)]
    assert sorted(calls) == list(range(10))


def test_an_error_is_raised_only_after_every_piece_has_finished(threads):
    threads(2)
    finished = []

    def piece_work(piece):
        if piece == 0:
            raise ValueError("first piece failed")
        time.sleep(0.05)  # still writing its rows when piece 0 has already failed
        finished.append(piece)

    with pytest.raises(ValueError, match="first piece failed"):
        parallel.parallel_map(piece_work, [0, 1])
    assert finished == [1]


def test_an_error_in_a_thread_reaches_the_caller(threads):
    threads(2)

    def fail_on_second(piece):
        if piece.start:
            raise ValueError(f"bad piece {piece}")
        return piece.stop

    with pytest.raises(ValueError, match="bad piece"):
        parallel.parallel_map(fail_on_second, parallel.split_range(10, 2))


@pytest.mark.parametrize("count", [0, -1, 1.5, True, "2"])
def test_set_num_threads_rejects_anything_but_a_positive_int(count):
    with pytest.raises(ValueError, match="thread count must be an integer >= 1"):
        parallel.set_num_threads(count)
