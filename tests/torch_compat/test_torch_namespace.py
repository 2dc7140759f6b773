"""The top-level namespace: every name is PyTorch's, devices and accelerators answer as on a
CPU-only PyTorch, grad modes switch like PyTorch's, and `import_as_torch` leaves no trace."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

import tinytorch
import tinytorch.nn.functional
from tinytorch.torch_api.as_torch import TORCH_NAMES, import_as_torch

CPU_ONLY = "tinytorch runs on the CPU only, got device"


def test_every_top_level_name_is_a_pytorch_name():
    ours = {name for name in tinytorch.__all__ if not name.startswith("_")}
    ours -= {"keep_freed_memory"}  # tinytorch's own
    missing_in_torch = sorted(name for name in ours if not hasattr(torch, name))
    assert missing_in_torch == []


def test_every_functional_name_is_a_pytorch_name():
    names = set(tinytorch.nn.functional.__all__)
    assert sorted(n for n in names if not hasattr(torch.nn.functional, n)) == []
    assert hasattr(tinytorch.nn.functional, "scaled_dot_product_attention")  # nanoGPT checks


def test_devices_parse_and_print_like_pytorchs():
    for spec in ("cpu", "cuda", "cuda:1", "mps"):
        assert str(tinytorch.device(spec)) == str(torch.device(spec))
        assert tinytorch.device(spec).type == torch.device(spec).type
    assert repr(tinytorch.device("cpu", 0)) == repr(torch.device("cpu", 0))
    assert tinytorch.device("cpu") == tinytorch.device(tinytorch.device("cpu"))
    assert tinytorch.zeros(1).device == tinytorch.device("cpu")
    with pytest.raises(ValueError, match="unknown device type 'gpu'"):
        tinytorch.device("gpu")


@pytest.mark.parametrize(
    "use",
    [
        lambda: tinytorch.zeros(2, device="cuda"),
        lambda: tinytorch.randn(2, device=tinytorch.device("mps")),
        lambda: tinytorch.ones(1).to("cuda"),
        lambda: tinytorch.nn.Linear(2, 2).to("cuda"),
        lambda: tinytorch.tensor([1.0], device=0),
        lambda: tinytorch.cuda.current_device(),
        lambda: tinytorch.Generator(device="cuda"),
    ],
)
def test_any_accelerator_raises_the_cpu_only_error(use):
    with pytest.raises(ValueError, match=CPU_ONLY) as error:
        use()
    assert "tinytorch export RUN_DIR OUT_DIR" in str(error.value)


def test_accelerators_are_reported_absent():
    assert tinytorch.cuda.is_available() is False and tinytorch.cuda.device_count() == 0
    assert tinytorch.backends.mps.is_available() is False
    tinytorch.cuda.manual_seed_all(0)  # a no-op, as in PyTorch without CUDA
    tinytorch.backends.cuda.matmul.allow_tf32 = True  # a setting scripts flip; no effect


def test_grad_modes():
    x = tinytorch.ones(2, requires_grad=True)
    with tinytorch.no_grad():
        assert not (x * 2).requires_grad
        with tinytorch.enable_grad():
            assert (x * 2).requires_grad
    with tinytorch.set_grad_enabled(False):
        assert not tinytorch.is_grad_enabled()
    assert tinytorch.is_grad_enabled()
    tinytorch.set_grad_enabled(False)  # called on its own it sets the mode
    try:
        assert not (x * 2).requires_grad
    finally:
        tinytorch.set_grad_enabled(True)

    @tinytorch.inference_mode()
    def infer():
        return x * 2

    @tinytorch.set_grad_enabled(False)
    def frozen():
        return x * 2

    assert tinytorch.is_grad_enabled()  # decorating does not switch the mode
    assert not infer().requires_grad and not frozen().requires_grad


def test_import_as_torch_restores_sys_modules():
    before = {name: sys.modules.get(name) for name in TORCH_NAMES}
    module = import_as_torch(Path(__file__).with_name("char_lecture.py"), "lecture_in_test")
    assert module.torch is tinytorch and module.F is tinytorch.nn.functional
    assert {name: sys.modules.get(name) for name in TORCH_NAMES} == before
    assert sys.modules["torch"] is torch
