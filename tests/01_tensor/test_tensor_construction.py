"""Building a Tensor: dtype rules, input validation, array-like properties and conversions."""

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor


@pytest.mark.parametrize(
    "data",
    [1.5, [0.5, 2.0], np.array([0.1, 0.2]), np.float64(3.0), np.array([1.0], np.float16)],
    ids=["python-float", "float-list", "float64-array", "float64-scalar", "float16-array"],
)
def test_floats_default_to_float32(data):
    t = Tensor(data)
    assert t.dtype == np.float32
    np.testing.assert_allclose(t.data, np.asarray(data, np.float64), rtol=1e-6)


@pytest.mark.parametrize(
    "data", [3, [1, 2], np.array([1, 2], np.int32), np.array([7], np.uint8), np.int16(4)]
)
def test_integers_become_int64(data):
    t = Tensor(data)
    assert t.dtype == np.int64
    np.testing.assert_array_equal(t.data, np.asarray(data))


def test_large_token_ids_stay_exact():
    ids = [2**40 + 1, 2**24 + 1, 2**53 + 1]
    t = Tensor(ids)
    assert t.dtype == np.int64 and t.data.tolist() == ids
    assert Tensor(2**40 + 1).item() == 2**40 + 1


def test_unsigned_values_beyond_int64_are_rejected_not_wrapped():
    with pytest.raises(ValueError, match="9223372036854775813 does not fit in int64"):
        Tensor(np.array([2**63 + 5], np.uint64))


def test_bool_stays_bool():
    t = Tensor([True, False])
    assert t.dtype == np.bool_ and t.data.tolist() == [True, False]


@pytest.mark.parametrize(
    "data",
    [np.array(["a", "b"]), np.array([object()], dtype=object), ["x"], [1 + 2j]],
    ids=["str-array", "object-array", "str-list", "complex"],
)
def test_non_numeric_data_raises_type_error(data):
    with pytest.raises(TypeError, match="must be numeric or bool, got dtype"):
        Tensor(data)


@pytest.mark.parametrize("data", [[1, 2], [True]])
def test_requires_grad_on_non_float_raises_type_error(data):
    with pytest.raises(TypeError, match="only floating-point tensors can require grad"):
        Tensor(data, requires_grad=True)
    with pytest.raises(TypeError, match="only floating-point tensors can require grad"):
        Tensor(data).requires_grad_()


def test_explicit_dtype_is_kept():
    t = Tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32


def test_constructor_copies_the_callers_array():
    source = np.ones(3, np.float32)
    t = Tensor(source)
    t.data[0] = 5.0  # in-place updates (optimizers, load_state_dict) must not reach `source`
    assert source[0] == 1.0


def test_properties():
    t = Tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4), requires_grad=True)
    assert isinstance(t.data, np.ndarray)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.numel() == 24 and t.dtype == np.float32
    assert t.grad is None and t.requires_grad and t.is_leaf and t.grad_fn is None
    m = Tensor(np.arange(6.0).reshape(2, 3))
    assert m.T.shape == (3, 2)
    np.testing.assert_array_equal(m.T.data, m.data.T)


def test_numpy_item_and_detach():
    t = Tensor(np.arange(3.0), requires_grad=True)
    assert t.numpy() is t.data
    assert Tensor([[2.5]]).item() == 2.5 and isinstance(Tensor(7).item(), int)
    with pytest.raises(ValueError):
        t.item()
    d = (t * 2.0).detach()
    assert not d.requires_grad and d.grad_fn is None
    np.testing.assert_array_equal(d.data, [0.0, 2.0, 4.0])


def test_numpy_interop():
    t = Tensor(np.arange(4.0).reshape(2, 2))
    assert np.asarray(t) is t.data
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    copied = np.array(t, copy=True)
    copied[0, 0] = 9.0
    assert t.data[0, 0] == 0.0
    with pytest.raises(ValueError, match="needs a copy"):
        t.__array__(np.float64, copy=False)


def test_len_and_repr():
    t = Tensor(np.zeros((4, 2)), requires_grad=True)
    assert len(t) == 4
    with pytest.raises(TypeError):
        len(Tensor(1.0))
    assert repr(t).startswith("Tensor([[0., 0.],")
    assert "dtype=float32" in repr(t) and "requires_grad=True" in repr(t)
    assert "grad_fn=<Mul>" in repr(t * 2.0)
    assert repr(Tensor([3])) == "Tensor([3], dtype=int64)"


def test_casts():
    x = Tensor([1.7, -2.2], requires_grad=True)
    assert x.double().dtype == np.float64 and x.double().requires_grad
    ids = x.long()  # integers carry no gradient, as in PyTorch
    assert ids.dtype == np.int64 and not ids.requires_grad and ids.data.tolist() == [1, -2]
    assert Tensor([1, 2]).float().dtype == np.float32
    x.to(np.float64).sum().backward()
    assert x.grad.dtype == np.float32
