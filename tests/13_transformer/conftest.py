"""The PyTorch twin of tinytorch's GPT lives in `benchmarks/torch_reference.py`, shared with the
benchmarks; the fixture hands its class to the parity tests."""

import pytest

from benchmarks.torch_reference import TorchGPT


@pytest.fixture
def torch_gpt():
    return TorchGPT
