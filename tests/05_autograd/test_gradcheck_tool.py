"""`tinytorch.testing.gradcheck` must reject a wrong backward, or every gradcheck is vacuous."""

import numpy as np
import pytest

from tinytorch.core.autograd import Function
from tinytorch.testing import gradcheck, numerical_gradient


class SquareWithWrongGradient(Function):
    def forward(self, a: np.ndarray) -> np.ndarray:
        self.a = a
        return a * a

    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * self.a  # should be 2 * a


class Square(SquareWithWrongGradient):
    def backward(self, grad: np.ndarray) -> np.ndarray:
        return grad * 2.0 * self.a


def test_gradcheck_accepts_a_right_backward_and_rejects_a_wrong_one() -> None:
    x = np.random.default_rng(0).standard_normal((3, 4))
    gradcheck(Square.apply, x)
    with pytest.raises(AssertionError, match="gradient of input 0"):
        gradcheck(SquareWithWrongGradient.apply, x)


def test_gradcheck_rejects_an_input_that_gets_no_gradient() -> None:
    x = np.ones(3)
    with pytest.raises(AssertionError, match="received no gradient"):
        gradcheck(lambda a, b: a * 2.0, x, x)


def test_numerical_gradient_restores_the_array_and_needs_float64() -> None:
    values = np.array([1.0, -2.0, 3.0])
    before = values.copy()
    grad = numerical_gradient(lambda: float(np.sum(values**3)), values)
    np.testing.assert_allclose(grad, 3 * before**2, rtol=1e-6)
    np.testing.assert_array_equal(values, before)
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda: 0.0, np.ones(2, dtype=np.float32))
