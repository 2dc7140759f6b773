"""Row-sparse gradients: only the rows in the gradient are read and written, never densified."""

import numpy as np
import pytest
import torch

from tinytorch.core.layers import Parameter
from tinytorch.core.optimizers import SGD, Adam, AdamW
from tinytorch.core.sparse import RowSparseGrad

TABLE = (12, 4)


def random_sparse_grads(steps: int, seed: int = 0, all_rows: bool = False) -> list[RowSparseGrad]:
    """Row-sparse gradients with repeated ids (summed by from_rows) on a random subset of rows."""
    rng = np.random.default_rng(seed)
    grads = []
    for _ in range(steps):
        rows = np.arange(TABLE[0]) if all_rows else rng.integers(0, TABLE[0], size=7)
        values = rng.standard_normal((rows.size, TABLE[1])).astype(np.float32)
        grads.append(RowSparseGrad.from_rows(rows, values, TABLE))
    return grads


def initial_table() -> np.ndarray:
    return np.random.default_rng(99).standard_normal(TABLE).astype(np.float32)


@pytest.fixture
def forbid_densifying(monkeypatch):
    """Make any attempt to turn a RowSparseGrad into a dense table fail the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the optimizer densified a row-sparse gradient")

    monkeypatch.setattr(RowSparseGrad, "to_dense", refuse)
    monkeypatch.setattr(RowSparseGrad, "__array__", refuse)


def test_sgd_without_momentum_gives_exactly_the_dense_result(forbid_densifying):
    grads = random_sparse_grads(20)
    dense_grads = [np.zeros(TABLE, np.float32) for _ in grads]
    for dense, grad in zip(dense_grads, grads, strict=True):
        dense[grad.indices] = grad.values
    sparse_param, dense_param = Parameter(initial_table()), Parameter(initial_table())
    sparse_opt, dense_opt = SGD([sparse_param], lr=0.1), SGD([dense_param], lr=0.1)
    for grad, dense in zip(grads, dense_grads, strict=True):
        sparse_param.grad, dense_param.grad = grad, dense
        sparse_opt.step()
        dense_opt.step()
    np.testing.assert_array_equal(sparse_param.data, dense_param.data)


OPTIMIZERS = [
    (SGD, dict(lr=0.1)),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.1)),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
    (Adam, dict(lr=0.01)),
    (Adam, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    (AdamW, dict(lr=0.01, weight_decay=0.1)),
]
IDS = [f"{cls.__name__}-{kw}" for cls, kw in OPTIMIZERS]


@pytest.mark.parametrize(("cls", "kwargs"), OPTIMIZERS, ids=IDS)
def test_rows_without_gradient_are_bit_identical_after_each_step(cls, kwargs, forbid_densifying):
    param = Parameter(initial_table())
    optimizer = cls([param], **kwargs)
    for grad in random_sparse_grads(10):
        before = param.data.copy()
        state_before = {
            k: v.copy()
            for k, v in optimizer.state.get(param, {}).items()
            if isinstance(v, np.ndarray)
        }
        param.grad = grad
        optimizer.step()
        untouched = np.setdiff1d(np.arange(TABLE[0]), grad.indices)
        np.testing.assert_array_equal(param.data[untouched], before[untouched])
        assert np.all(param.data[grad.indices] != before[grad.indices])
        for name, value in state_before.items():  # lazy: state rows only change with a gradient
            np.testing.assert_array_equal(optimizer.state[param][name][untouched], value[untouched])
    assert param.dtype == np.float32


@pytest.mark.parametrize(("cls", "kwargs"), OPTIMIZERS, ids=IDS)
def test_sparse_gradient_covering_every_row_equals_the_dense_step(cls, kwargs):
    """Lazy semantics coincide with the dense formula when every row has a gradient."""
    sparse_param, dense_param = Parameter(initial_table()), Parameter(initial_table())
    sparse_opt, dense_opt = cls([sparse_param], **kwargs), cls([dense_param], **kwargs)
    for grad in random_sparse_grads(10, all_rows=True):
        sparse_param.grad, dense_param.grad = grad, grad.values.copy()
        sparse_opt.step()
        dense_opt.step()
    np.testing.assert_array_equal(sparse_param.data, dense_param.data)


def test_sparse_adam_matches_torch_sparse_adam():
    param = Parameter(initial_table())
    reference = torch.tensor(initial_table(), requires_grad=True)
    ours = Adam([param], lr=0.01, betas=(0.8, 0.99))
    torch_opt = torch.optim.SparseAdam([reference], lr=0.01, betas=(0.8, 0.99))
    for grad in random_sparse_grads(50, seed=3):
        param.grad = grad
        reference.grad = torch.sparse_coo_tensor(
            torch.tensor(grad.indices)[None],
            torch.tensor(grad.values),
            TABLE,
            check_invariants=True,
        )
        ours.step()
        torch_opt.step()
        np.testing.assert_allclose(param.data, reference.detach().numpy(), rtol=1e-4, atol=1e-6)
    assert ours.state[param]["step"] == torch_opt.state[reference]["step"] == 50


def test_empty_sparse_gradient_changes_no_row_but_counts_the_step():
    param = Parameter(initial_table())
    optimizer = Adam([param], lr=0.1)
    param.grad = RowSparseGrad(np.zeros(0, np.int64), np.zeros((0, 4), np.float32), TABLE)
    optimizer.step()
    np.testing.assert_array_equal(param.data, initial_table())
    assert optimizer.state[param]["step"] == 1


def test_zero_grad_without_none_keeps_a_sparse_gradient_sparse():
    param = Parameter(initial_table())
    param.grad = random_sparse_grads(1)[0]
    SGD([param], lr=0.1).zero_grad(set_to_none=False)
    assert isinstance(param.grad, RowSparseGrad) and param.grad.indices.size == 0
    assert param.grad.shape == TABLE
