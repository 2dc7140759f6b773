import numpy as np
import pytest

from tinytorch.data import get_batch, sequential_batches


def test_get_batch_shapes_dtype_and_shift():
    ids = np.arange(1000, dtype=np.int32) * 7
    x, y = get_batch(ids, block_size=16, batch_size=8, rng=np.random.default_rng(0))
    assert x.shape == y.shape == (8, 16)
    assert x.dtype == y.dtype == np.int64
    starts = x[:, 0] // 7
    np.testing.assert_array_equal(x, ids[starts[:, None] + np.arange(16)])
    np.testing.assert_array_equal(y, ids[starts[:, None] + np.arange(1, 17)])


def test_get_batch_is_reproducible_and_reaches_every_offset():
    ids = np.arange(13)  # block 10 -> starts 0, 1, 2 are the only ones with a full target
    a = get_batch(ids, 10, 64, np.random.default_rng(1))
    b = get_batch(ids, 10, 64, np.random.default_rng(1))
    np.testing.assert_array_equal(a[0], b[0])
    assert set(a[0][:, 0].tolist()) == {0, 1, 2}
    assert a[1].max() == 12


def test_get_batch_smallest_text():
    x, y = get_batch(np.array([5, 6, 7]), 2, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(x, [[5, 6]] * 3)
    np.testing.assert_array_equal(y, [[6, 7]] * 3)


def test_too_short_text_names_both_numbers():
    with pytest.raises(ValueError, match=r"text of 64 tokens is shorter than .* 64\+1 tokens"):
        get_batch(np.arange(64), 64, 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"text of 10 tokens .* 32\+1 tokens"):
        sequential_batches(np.arange(10), 32, 4)  # raised on the call, not on first next()


@pytest.mark.parametrize(
    ("block_size", "batch_size", "error"),
    [(0, 4, ValueError), (8, -1, ValueError), (8.0, 4, TypeError), (8, True, TypeError)],
)
def test_sizes_must_be_positive_ints(block_size, batch_size, error):
    with pytest.raises(error, match="block_size|batch_size"):
        get_batch(np.arange(100), block_size, batch_size, np.random.default_rng(0))
    with pytest.raises(error, match="block_size|batch_size"):
        sequential_batches(np.arange(100), block_size, batch_size)


def test_ids_must_be_1d_integers():
    with pytest.raises(TypeError, match="integers"):
        get_batch(np.linspace(0, 1, 100), 8, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="1-D"):
        get_batch(np.zeros((10, 10), dtype=np.int64), 8, 2, np.random.default_rng(0))


def test_sequential_batches_cover_the_data_once_in_order():
    ids = np.arange(103, dtype=np.int64) * 3
    batches = list(sequential_batches(ids, block_size=10, batch_size=4))
    assert [x.shape for x, _ in batches] == [(4, 10), (4, 10), (2, 10)]
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    assert x.dtype == y.dtype == np.int64
    np.testing.assert_array_equal(x.ravel(), ids[:100])  # non-overlapping, in order
    np.testing.assert_array_equal(y.ravel(), ids[1:101])  # 2 trailing targets left out
    again = np.concatenate([b[0] for b in sequential_batches(ids, 10, 4)])
    np.testing.assert_array_equal(again, x)


def test_sequential_batches_exact_fit():
    (x, y), *rest = sequential_batches(np.arange(9), 4, 8)
    assert rest == []
    np.testing.assert_array_equal(x, [[0, 1, 2, 3], [4, 5, 6, 7]])
    np.testing.assert_array_equal(y, [[1, 2, 3, 4], [5, 6, 7, 8]])
