"""Core engine: tensors, autograd, layers, losses, optimizers, attention."""

# Imported first so that `tensor` finishes defining `Tensor` before `autograd` and
# `functional` (which both import it) are loaded, whichever submodule a user imports.
from tinytorch.core.tensor import Tensor

__all__ = ["Tensor"]
