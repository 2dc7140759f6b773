"""Random tensors with PyTorch's signatures: `randn`, `rand`, `randint`, `randperm`, the
`*_like` forms, and `multinomial`.

Each draws from `generator=` (a `tinytorch.Generator`) or from the library's generator, which
`tinytorch.manual_seed` reseeds. The distributions are PyTorch's; the numbers are not (NumPy's
PCG64 is not PyTorch's Mersenne Twister), so a seed reproduces a tinytorch run, not a PyTorch one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.checks import check_positive, is_int
from tinytorch.core.devices import check_device
from tinytorch.core.dtypes import float32, resolve_dtype
from tinytorch.core.random import Generator, numpy_generator
from tinytorch.core.tensor import Tensor
from tinytorch.torch_api.creation import made, shape_from


def _source(generator: Generator | None, device: Any) -> np.random.Generator:
    """The generator to draw from, after checking the device: a refused call draws nothing, so
    the next draw of a seeded run is the one it would have been."""
    check_device(device)
    return numpy_generator(generator)


def _float_dtype(dtype: Any) -> np.dtype:
    target = float32 if dtype is None else resolve_dtype(dtype)
    if target.kind != "f":
        raise TypeError(f"random floats need a floating-point dtype, got {target}")
    return target


def randn(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Samples of the standard normal distribution."""
    target = _float_dtype(dtype)
    array = _source(generator, device).standard_normal(shape_from(size), dtype=target)
    return made(array, device, requires_grad)


def rand(*size: Any, generator: Generator | None = None, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """Samples of the uniform distribution on [0, 1)."""
    target = _float_dtype(dtype)
    array = _source(generator, device).random(shape_from(size), dtype=target)
    return made(array, device, requires_grad)


def randn_like(input: Tensor, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    return randn(input.shape, dtype=input.dtype if dtype is None else dtype, device=device,
                 requires_grad=requires_grad)


def rand_like(input: Tensor, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    return rand(input.shape, dtype=input.dtype if dtype is None else dtype, device=device,
                requires_grad=requires_grad)


def randint(*args: Any, size: Any = None, generator: Generator | None = None, dtype: Any = None,
            device: Any = None, requires_grad: bool = False, low: int | None = None,
            high: int | None = None) -> Tensor:
    """Integers uniform in [low, high): `randint(high, size)` or `randint(low, high, size)`."""
    if size is None and args:
        *args, size = args
    positional = list(args)
    if high is None and positional:
        high = positional.pop()
    if low is None:
        low = positional.pop() if positional else 0
    if positional or size is None or high is None:
        raise TypeError("randint takes (high, size) or (low, high, size)")
    if not (is_int(low) and is_int(high)) or low >= high:
        raise ValueError(f"randint needs integers low < high, got low={low!r}, high={high!r}")
    target = np.dtype(np.int64) if dtype is None else resolve_dtype(dtype)
    values = _source(generator, device).integers(low, high, size=shape_from((size,)))
    return made(values.astype(target, copy=False), device, requires_grad)


def randperm(n: int, *, generator: Generator | None = None, dtype: Any = None,
             device: Any = None) -> Tensor:
    """A random permutation of 0 .. n-1 (int64)."""
    if not is_int(n) or n < 0:
        raise ValueError(f"randperm needs a non-negative integer n, got {n!r}")
    target = np.dtype(np.int64) if dtype is None else resolve_dtype(dtype)
    return made(_source(generator, device).permutation(int(n)).astype(target), device, False)


def _probabilities(input: Any) -> np.ndarray:
    """Rows of non-negative, finite weights with a positive sum, as float64 (B, C)."""
    weights = input.data if isinstance(input, Tensor) else np.asarray(input)
    if weights.dtype.kind != "f":
        raise TypeError(f"multinomial needs floating-point weights, got dtype {weights.dtype}")
    if weights.ndim not in (1, 2) or weights.shape[-1] == 0:
        raise ValueError(
            f"multinomial needs probabilities of shape (C,) or (B, C) with C >= 1, got "
            f"{weights.shape}"
        )
    rows = weights.reshape(-1, weights.shape[-1]).astype(np.float64)
    bad = ~(np.isfinite(weights) & (weights >= 0))
    if bad.any():
        position = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"multinomial probabilities must be finite and non-negative, got {weights[position]!s} "
            f"at position {position}"
        )
    if not (rows.sum(axis=1) > 0).all():
        raise ValueError("multinomial probabilities must have a positive sum in every row")
    return rows


def multinomial(input: Any, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Category indices (int64) drawn with probability proportional to each row of `input`.

    `input` is (C,) or (B, C) non-negative weights (they need not sum to 1); the result is
    (num_samples,) or (B, num_samples). Without replacement a category is drawn at most once per
    row, so num_samples may not exceed the number of non-zero weights (PyTorch's rule).
    """
    check_positive(num_samples=num_samples)
    rows = _probabilities(input)
    rng = numpy_generator(generator)
    if replacement or num_samples == 1:
        # Inverse CDF: dividing by the last cumulative sum makes it exactly 1.0, so a uniform
        # draw in [0, 1) never lands beyond the last category with a non-zero weight.
        cdf = np.cumsum(rows, axis=1)
        cdf /= cdf[:, -1:]
        draws = rng.random((rows.shape[0], num_samples))
        picks = np.stack([np.searchsorted(c, d, side="right") for c, d in zip(cdf, draws,
                                                                              strict=True)])
    else:
        available = int((rows > 0).sum(axis=1).min())
        if num_samples > available:
            raise ValueError(
                f"multinomial without replacement: num_samples {num_samples} exceeds the "
                f"{available} categories with a non-zero weight"
            )
        # Gumbel top-k: the k largest log(p) + Gumbel noise are k draws without replacement.
        with np.errstate(divide="ignore"):
            keys = np.log(rows) + rng.gumbel(size=rows.shape)
        picks = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    shape = (num_samples,) if np.ndim(input) == 1 else (rows.shape[0], num_samples)
    return Tensor._wrap(picks.astype(np.int64).reshape(shape))
