"""The PyTorch-style programs (benchmarks/torch_style_gpt.py and this folder's char_lecture.py),
loaded on either library.

`on_torch` imports a program as written; `on_tinytorch` imports the same file with `torch`
resolved to tinytorch, not one character changed. Tests compare what the two do.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from tinytorch.torch_api.as_torch import import_as_torch


def on_torch(module: str) -> ModuleType:
    return importlib.import_module(module)


def on_tinytorch(module: str) -> ModuleType:
    return import_as_torch(Path(importlib.util.find_spec(module).origin))


@pytest.fixture(scope="module")
def gpt_programs() -> tuple[ModuleType, ModuleType]:
    """benchmarks/torch_style_gpt.py loaded on (PyTorch, tinytorch)."""
    name = "benchmarks.torch_style_gpt"
    return on_torch(name), on_tinytorch(name)


@pytest.fixture(scope="module")
def lecture_programs() -> tuple[ModuleType, ModuleType]:
    """char_lecture.py loaded on (PyTorch, tinytorch)."""
    name = "tests.torch_compat.char_lecture"
    return on_torch(name), on_tinytorch(name)
