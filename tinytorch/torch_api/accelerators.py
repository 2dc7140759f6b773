"""`torch.cuda` and `torch.backends.mps` as code asks them before choosing a device: there is
no accelerator here, so the answer is always "not available" and the code picks the CPU.

Seeding CUDA does nothing (PyTorch does the same when CUDA is absent); asking for a CUDA device
raises the CPU-only error of `tinytorch.core.devices`.
"""

from __future__ import annotations

from types import SimpleNamespace

from tinytorch.core.devices import check_device


def _false() -> bool:
    return False


def _ignore_seed(seed: int) -> None:
    """Seeding an absent device changes nothing (as in PyTorch without CUDA)."""


def _no_device() -> int:
    check_device("cuda")  # raises: tinytorch runs on the CPU only
    return 0


cuda = SimpleNamespace(
    is_available=_false,
    is_bf16_supported=_false,
    device_count=lambda: 0,
    current_device=_no_device,
    manual_seed=_ignore_seed,
    manual_seed_all=_ignore_seed,
)
# The tf32 switches are settings PyTorch scripts flip at start-up; here they mean nothing.
backends = SimpleNamespace(
    mps=SimpleNamespace(is_available=_false, is_built=_false),
    cuda=SimpleNamespace(is_built=_false, matmul=SimpleNamespace(allow_tf32=False)),
    cudnn=SimpleNamespace(allow_tf32=False),
)
