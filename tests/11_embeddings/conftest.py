"""Helpers shared by the embedding tests: float64 central differences and a seeded generator."""

from collections.abc import Callable

import numpy as np
import pytest


def _central_difference(loss: Callable[[], float], array: np.ndarray, eps: float) -> np.ndarray:
    """d loss / d array by central differences, perturbing `array` in place (float64 only).

    `loss` must read `array` afresh on every call (e.g. through a Tensor wrapping it).
    """
    assert array.dtype == np.float64
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


@pytest.fixture
def numerical_grad() -> Callable[..., np.ndarray]:
    """`numerical_grad(loss, array, eps=1e-6)` (a fixture: test modules cannot import helpers)."""

    def numerical(loss: Callable[[], float], array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
        return _central_difference(loss, array, eps)

    return numerical


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
