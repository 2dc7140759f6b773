"""Numerical gradient checking for the autograd tests.

`gradcheck(fn, *arrays)` compares the engine's gradients of `fn` with central differences, both in
float64 so the only error left is the method's own (O(eps^2) truncation, O(1e-16 / eps) rounding).
The output is contracted with a random upstream gradient rather than summed, so a backward that
is right only for an all-ones gradient (or that mixes up output positions) is caught too.
"""

from collections.abc import Callable

import numpy as np
import pytest

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor

EPS = 1e-6
RTOL = 1e-5
ATOL = 1e-7


def numerical_gradient(
    scalar_fn: Callable[[list[np.ndarray]], float], arrays: list[np.ndarray], which: int
) -> np.ndarray:
    """d scalar_fn / d arrays[which] by central differences, one element at a time."""
    base = arrays[which]
    grad = np.zeros_like(base)
    for index in np.ndindex(base.shape):
        shifted = []
        for step in (EPS, -EPS):
            probe = base.copy()
            probe[index] += step
            shifted.append(scalar_fn([*arrays[:which], probe, *arrays[which + 1 :]]))
        grad[index] = (shifted[0] - shifted[1]) / (2 * EPS)
    return grad


def check_gradients(fn: Callable[..., Tensor], *arrays: np.ndarray, seed: int = 0) -> None:
    """Assert that backward through `fn(*tensors)` matches central differences for every input."""
    arrays64 = [np.asarray(a, dtype=np.float64) for a in arrays]
    inputs = [Tensor(a, requires_grad=True, dtype=np.float64) for a in arrays64]
    out = fn(*inputs)
    assert out.dtype == np.float64, f"{fn} turned float64 inputs into {out.dtype}"
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(upstream)

    def contracted(values: list[np.ndarray]) -> float:
        with no_grad():
            result = fn(*(Tensor(v, dtype=np.float64) for v in values))
        return float(np.sum(result.data * upstream))

    for i, tensor in enumerate(inputs):
        expected = numerical_gradient(contracted, arrays64, i)
        assert tensor.grad is not None, f"input {i} received no gradient"
        assert tensor.grad.shape == tensor.shape and tensor.grad.dtype == np.float64
        np.testing.assert_allclose(
            tensor.grad, expected, rtol=RTOL, atol=ATOL, err_msg=f"gradient of input {i}"
        )


@pytest.fixture
def gradcheck() -> Callable[..., None]:
    """The gradient checker, as a fixture (test modules cannot import each other's helpers)."""
    return check_gradients
