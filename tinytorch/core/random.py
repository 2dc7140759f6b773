"""The library's single random-number generator, so one `manual_seed` makes a run repeatable."""

from __future__ import annotations

import numpy as np

from tinytorch.core.checks import check_non_negative

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
