"""PyTorch-style namespace for optimizers: `from tinytorch import optim; optim.AdamW(...)`."""

from tinytorch.core.optimizers import (
    SGD,
    Adam,
    AdamW,
    LambdaLR,
    LRSchedule,
    Optimizer,
    WarmupCosineSchedule,
    clip_grad_norm_,
)

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "LRSchedule",
    "LambdaLR",
    "Optimizer",
    "WarmupCosineSchedule",
    "clip_grad_norm_",
]
