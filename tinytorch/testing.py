"""Gradient checking: compare autograd's gradients with central finite differences.

Useful beyond this project's tests: after writing a new `Function`, `gradcheck(fn, x, w)` tells
you whether its backward is right. Everything runs in float64, so the only error left is the
method's own (O(eps^2) truncation, O(1e-16 / eps) rounding).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor


def numerical_gradient(
    loss: Callable[[], float], array: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    """d loss / d array by central differences, perturbing `array` in place, one element at a time.

    `loss` must read `array` afresh on every call (e.g. through a Tensor or Parameter wrapping
    it); the array is restored exactly afterwards.
    """
    if array.dtype != np.float64:
        raise TypeError(f"central differences need a float64 array, got {array.dtype}")
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + eps
        plus = loss()
        array[index] = original - eps
        minus = loss()
        array[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(
    fn: Callable[..., Tensor],
    *arrays: np.ndarray,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    seed: int = 0,
) -> None:
    """Assert that backward through `fn(*tensors)` matches central differences for every input.

    The output is contracted with a random upstream gradient rather than summed, so a backward
    that is right only for an all-ones gradient (or mixes up output positions) is caught too.
    """
    values = [np.array(a, dtype=np.float64) for a in arrays]
    inputs = [Tensor(v, requires_grad=True, dtype=np.float64) for v in values]
    out = fn(*inputs)
    if out.dtype != np.float64:
        raise AssertionError(f"{fn} turned float64 inputs into {out.dtype}")
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(upstream)

    def contracted() -> float:
        with no_grad():
            result = fn(*(Tensor(v, dtype=np.float64) for v in values))
        return float(np.sum(result.data * upstream))

    for i, tensor in enumerate(inputs):
        expected = numerical_gradient(contracted, values[i], eps)
        if tensor.grad is None:
            raise AssertionError(f"input {i} received no gradient")
        if tensor.grad.shape != tensor.shape or tensor.grad.dtype != np.float64:
            raise AssertionError(
                f"gradient of input {i} has shape {tensor.grad.shape} and dtype "
                f"{tensor.grad.dtype}, expected {tensor.shape} float64"
            )
        np.testing.assert_allclose(
            tensor.grad, expected, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}"
        )
