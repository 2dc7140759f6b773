"""The library's single random-number generator, so one `manual_seed` makes a run repeatable;
and `Generator`, a separate stream for the functions that take `generator=` (as in PyTorch)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from tinytorch.core.checks import check_non_negative
from tinytorch.core.devices import check_device

_generator = np.random.default_rng(0)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed every random choice tinytorch makes (initialisation, dropout, sampling)."""
    global _generator
    check_non_negative(seed=seed)
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    return _generator


def get_rng_state() -> dict:
    """The generator's exact state (JSON-serialisable), for bit-exact resume."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    _generator.bit_generator.state = state


class Generator:
    """A separate random stream, as PyTorch's `torch.Generator`: `Generator().manual_seed(0)`.

    Functions that take `generator=` draw from it instead of the library's generator, so a
    sampling loop can be repeated without reseeding everything else. The stream is NumPy's
    PCG64, not PyTorch's Mersenne Twister: the same seed gives other numbers than in PyTorch.
    """

    def __init__(self, device: object = "cpu") -> None:
        check_device(device)
        self._seed = 0
        self.numpy = np.random.default_rng(0)

    def manual_seed(self, seed: int) -> Generator:
        check_non_negative(seed=seed)
        self._seed = int(seed)
        self.numpy = np.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return self.numpy.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        self.numpy.bit_generator.state = state
        return self


def numpy_generator(generator: Generator | None) -> np.random.Generator:
    """The NumPy generator behind `generator=`: the given Generator's, or the library's."""
    if generator is None:
        return _generator
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a tinytorch.Generator or None, got {generator!r}")
    return generator.numpy


class _Zeros:
    """Stands in for the generator in `uninitialized()`: every draw is float32 zeros, which the
    kernel maps lazily and which initialisers need not convert (they keep float32 weights)."""

    def standard_normal(self, size: Any, dtype: Any = None) -> np.ndarray:
        return np.zeros(size, np.float32)

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Any = None) -> np.ndarray:
        return np.zeros(size, np.float32)

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None) -> np.ndarray:
        return np.zeros(size, np.float32)

    def random(self, size: Any = None, dtype: Any = None) -> np.ndarray:
        return np.zeros(size, np.float32)


def initializing() -> bool:
    """False inside `uninitialized()`: an initialiser may skip work whose result is discarded."""
    return not isinstance(_generator, _Zeros)


@contextlib.contextmanager
def uninitialized() -> Iterator[None]:
    """Build modules whose weights are about to be overwritten (loading pretrained weights):
    their initialisers get zeros instead of random draws.

    Drawing 124M initial values that a checkpoint then replaces costs seconds and a transient
    copy of the largest tables; zeros cost neither (the kernel maps them lazily). The generator
    is not advanced, so loading a model leaves every seeded result that follows unchanged.
    """
    global _generator
    saved, _generator = _generator, _Zeros()  # type: ignore[assignment]
    try:
        yield
    finally:
        _generator = saved
