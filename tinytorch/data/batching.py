"""Cut a stream of token ids into (input, target) blocks for next-token training.

Targets are the inputs shifted by one position (nanoGPT style), so one block of ``block_size``
inputs needs ``block_size + 1`` ids. Everything is index arithmetic on the whole batch at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tinytorch.core.checks import is_int


def _check_size(name: str, value: int) -> None:
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value}")


def _check_ids(ids: np.ndarray, block_size: int, batch_size: int) -> np.ndarray:
    _check_size("block_size", block_size)
    _check_size("batch_size", batch_size)
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"ids must be a 1-D array, got shape {ids.shape}")
    if not np.issubdtype(ids.dtype, np.integer):
        raise TypeError(f"ids must be integers, got dtype {ids.dtype}")
    if len(ids) <= block_size:
        raise ValueError(
            f"text of {len(ids)} tokens is shorter than one training block of {block_size}+1 tokens"
        )
    return ids.astype(np.int64, copy=False)


def get_batch(
    ids: np.ndarray, block_size: int, batch_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A random batch: ``batch_size`` blocks starting at uniform offsets, with their targets.

    Returns int64 arrays ``x, y`` of shape (batch_size, block_size) with
    ``y[i, t] == ids[start_i + t + 1]``: every offset whose target fits is equally likely.
    """
    ids = _check_ids(ids, block_size, batch_size)
    starts = rng.integers(0, len(ids) - block_size, size=batch_size)
    index = starts[:, None] + np.arange(block_size)
    return ids[index], ids[index + 1]


def sequential_batches(
    ids: np.ndarray, block_size: int, batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Non-overlapping blocks in order, for a deterministic validation loss.

    Yields ``x, y`` of shape (rows, block_size), ``rows == batch_size`` except possibly in the
    last batch. Block ``k`` holds ids ``[k*block_size, (k+1)*block_size)`` and their successors,
    so each target is scored exactly once; the final ``(len(ids) - 1) % block_size`` targets,
    too few for a whole block, are left out. Arguments are checked on the call, not on the
    first ``next``.
    """
    ids = _check_ids(ids, block_size, batch_size)
    num_blocks = (len(ids) - 1) // block_size
    end = num_blocks * block_size
    x = ids[:end].reshape(num_blocks, block_size)
    y = ids[1 : end + 1].reshape(num_blocks, block_size)
    return (
        (x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, num_blocks, batch_size)
    )
