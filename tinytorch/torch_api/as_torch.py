"""Run a module written for PyTorch on tinytorch without editing it, not even its imports.

`import_as_torch(path)` executes the file while `torch`, `torch.nn`, `torch.nn.functional`,
`torch.nn.init`, `torch.nn.utils` and `torch.optim` name tinytorch's modules, then restores
`sys.modules`: the loaded module keeps tinytorch as its `torch`, everything else keeps PyTorch.
Another `torch.*` import inside the file fails with ModuleNotFoundError, unless PyTorch itself
was imported before (then that submodule is PyTorch's; its names will not fit tinytorch tensors).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

TORCH_NAMES = {
    "torch": "tinytorch",
    "torch.nn": "tinytorch.nn",
    "torch.nn.functional": "tinytorch.nn.functional",
    "torch.nn.init": "tinytorch.nn.init",
    "torch.nn.utils": "tinytorch.nn.utils",
    "torch.optim": "tinytorch.optim",
}


@contextmanager
def torch_names() -> Iterator[None]:
    """Inside the block, `import torch` (and the names above) import tinytorch."""
    saved = {name: sys.modules.get(name) for name in TORCH_NAMES}
    try:
        for name, ours in TORCH_NAMES.items():
            sys.modules[name] = importlib.import_module(ours)
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def import_as_torch(path: str | Path, module_name: str | None = None) -> ModuleType:
    """Execute the Python file at `path` with `torch` meaning tinytorch; return the module.

    It is registered in `sys.modules` as `module_name` (default: `<file stem>_on_tinytorch`).
    """
    path = Path(path)
    name = module_name or f"{path.stem}_on_tinytorch"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with torch_names():
            spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
