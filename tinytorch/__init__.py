"""tinytorch: a small, readable, correct and fast deep-learning framework in Python + NumPy.

The import paths of the original TinyTorch module map are the contract (`tinytorch.core.tensor`,
`tinytorch.text.embeddings`, ...). These root names are conveniences for people coming from
PyTorch: `tinytorch.Tensor`, `tinytorch.no_grad`, `tinytorch.manual_seed`, and the `nn` and
`optim` namespaces.
"""

from tinytorch import nn, optim
from tinytorch.core.allocator import keep_freed_memory
from tinytorch.core.autograd import no_grad
from tinytorch.core.random import manual_seed
from tinytorch.core.tensor import Tensor

__version__ = "0.1.0"

keep_freed_memory()  # reuse freed memory across training steps: see tinytorch.core.allocator

__all__ = ["Tensor", "__version__", "manual_seed", "nn", "no_grad", "optim"]
