"""tinytorch: a small, readable, correct and fast deep-learning framework in Python + NumPy.

The import paths of the original TinyTorch module map are the contract (`tinytorch.core.tensor`,
`tinytorch.text.embeddings`, ...). These root names are conveniences for people coming from
PyTorch: `tinytorch.Tensor`, `tinytorch.no_grad`, `tinytorch.manual_seed`, and the `nn` and
`optim` namespaces. Importing tinytorch changes nothing outside it; a training program may call
`tinytorch.keep_freed_memory()` once (see `tinytorch.core.allocator`).
"""

from tinytorch import nn, optim
from tinytorch.core.allocator import keep_freed_memory
from tinytorch.core.autograd import no_grad
from tinytorch.core.random import manual_seed
from tinytorch.core.tensor import Tensor

__version__ = "0.1.0"

__all__ = ["Tensor", "__version__", "keep_freed_memory", "manual_seed", "nn", "no_grad", "optim"]
