"""Load the PyTorch-style programs of this folder on either library.

`on_torch(name)` imports the file as written; `on_tinytorch(name)` imports the same file with
`torch` resolved to tinytorch, not one character changed. Tests compare what the two do.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tinytorch.torch_api.as_torch import import_as_torch

HERE = Path(__file__).parent


def on_torch(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_on_torch", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would (dataclasses look the module up)
    spec.loader.exec_module(module)
    return module


def on_tinytorch(name: str) -> ModuleType:
    return import_as_torch(HERE / f"{name}.py")


@pytest.fixture(scope="module")
def gpt_programs() -> tuple[ModuleType, ModuleType]:
    """torch_style_gpt.py loaded on (PyTorch, tinytorch)."""
    return on_torch("torch_style_gpt"), on_tinytorch("torch_style_gpt")


@pytest.fixture(scope="module")
def lecture_programs() -> tuple[ModuleType, ModuleType]:
    """char_lecture.py loaded on (PyTorch, tinytorch)."""
    return on_torch("char_lecture"), on_tinytorch("char_lecture")
