"""Property-based fuzzing of the embedding lookup with random index arrays.

Valid ids (any integer dtype, any shape including empty and 0-D, arrays or nested lists) give
exactly NumPy's `weight[ids]` and a gradient equal to `np.add.at`; invalid ones raise the
documented `IndexOutOfRangeError` naming the first bad id and its position, and never wrap.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinytorch.core.errors import IndexOutOfRangeError
from tinytorch.core.tensor import Tensor
from tinytorch.text.embeddings import Embedding

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


def _table(rows: int, dim: int, seed: int) -> Embedding:
    """A float64 table, so gradients can be compared exactly with np.add.at."""
    weight = np.random.default_rng(seed).standard_normal((rows, dim))
    return Embedding.from_pretrained(Tensor(weight, dtype=np.float64), freeze=False)


@settings(max_examples=80, deadline=None)
@given(
    rows=st.integers(1, 40),
    dim=st.integers(1, 4),
    dtype=st.sampled_from(INT_DTYPES),
    shape=SHAPES,
    as_list=st.booleans(),
    sparse=st.booleans(),
    data=st.data(),
)
def test_valid_ids_match_numpy_indexing_and_add_at(rows, dim, dtype, shape, as_list, sparse, data):
    ids = data.draw(hnp.arrays(dtype, shape, elements=st.integers(0, rows - 1)))
    table = _table(rows, dim, seed=rows * 7 + dim)
    table.sparse = sparse
    weight = table.weight.data.copy()

    nested = ids.tolist()  # nested lists cannot express an empty inner axis such as (0, 3)
    out = table(nested if as_list and np.shape(nested) == ids.shape else ids)
    np.testing.assert_array_equal(out.data, weight[ids])
    assert out.shape == ids.shape + (dim,) and out.dtype == weight.dtype

    upstream = np.random.default_rng(1).standard_normal(out.shape)
    (out * upstream).sum().backward()
    expected = np.zeros_like(weight)
    np.add.at(expected, ids.reshape(-1).astype(np.int64), upstream.reshape(-1, dim))
    grad = table.weight.grad.to_dense() if sparse else table.weight.grad
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-12)


def _bad_values(dtype: type, rows: int) -> st.SearchStrategy[int]:
    """Ids of `dtype` outside [0, rows): negative ones (signed types) and too large ones."""
    info = np.iinfo(dtype)
    too_large = st.integers(rows, int(info.max))
    return st.one_of(st.integers(int(info.min), -1), too_large) if info.min < 0 else too_large


@settings(max_examples=80, deadline=None)
@given(
    rows=st.integers(1, 100),
    dtype=st.sampled_from(INT_DTYPES),
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
    data=st.data(),
)
def test_invalid_ids_raise_naming_the_first_bad_id_and_never_wrap(rows, dtype, shape, data):
    ids = data.draw(hnp.arrays(dtype, shape, elements=st.integers(0, min(rows, 100) - 1)))
    flat_bad = data.draw(st.sets(st.integers(0, ids.size - 1), min_size=1, max_size=3))
    for index in flat_bad:
        ids.flat[index] = data.draw(_bad_values(dtype, rows))
    first = min(flat_bad)
    position = tuple(int(i) for i in np.unravel_index(first, ids.shape))
    table = _table(rows, 2, seed=0)
    before = table.weight.data.copy()

    with pytest.raises(IndexOutOfRangeError) as info:
        table(ids)
    message = str(info.value)
    assert isinstance(info.value, IndexError) and isinstance(info.value, ValueError)
    assert f"token id {ids.flat[first]} at position {position} is out of range" in message
    assert f"[0, {rows})" in message
    np.testing.assert_array_equal(table.weight.data, before)


@settings(max_examples=60, deadline=None)
@given(
    ids=hnp.arrays(
        st.sampled_from([np.float16, np.float32, np.float64, np.bool_, np.complex64]),
        SHAPES,
    )
)
def test_non_integer_ids_raise_type_error_whatever_their_values(ids):
    """NaN, inf, whole-number floats and bools alike: never truncated or cast to an id."""
    with pytest.raises(TypeError, match=f"got dtype {ids.dtype}"):
        _table(10, 2, seed=0)(ids)
