"""Helpers shared by the attention tests: a float64 central-difference gradient."""

from collections.abc import Callable

import numpy as np
import pytest


def _central_difference(loss: Callable[[], float], array: np.ndarray, eps: float) -> np.ndarray:
    """d loss / d array by central differences, perturbing `array` in place (float64 only)."""
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
def numeric_grad() -> Callable[..., np.ndarray]:
    return lambda loss, array, eps=1e-6: _central_difference(loss, array, eps)
