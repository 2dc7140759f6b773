"""Adding a positional encoding is one module and one entry in POSITION_ENCODINGS.

docs/design.md ("Add a positional encoding") promises that nothing else changes: the embedding
layer, attention, the GPT, its config, the checkpoint's size check and the command line all take
what they need from the registry. This test adds a toy scheme from outside the package and uses it
through every one of them.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.cli import main
from tinytorch.core.module import Module, Parameter
from tinytorch.core.tensor import Tensor
from tinytorch.models.gpt_config import GPTConfig
from tinytorch.models.transformer import GPT
from tinytorch.run_directory import RunDirectory
from tinytorch.text import positions
from tinytorch.text.positions import PositionScheme


class EveryOtherPosition(Module):
    """A toy learned table with one vector for even positions and one for odd ones."""

    def __init__(self, max_seq_len: int, embed_dim: int) -> None:
        super().__init__()
        self.weight = Parameter(np.random.default_rng(0).normal(0, 1, (2, embed_dim)))

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        parity = (offset + np.arange(x.shape[-2])) % 2
        return x + self.weight[parity]


@pytest.fixture
def toy_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    scheme = PositionScheme("parity", table=EveryOtherPosition)
    monkeypatch.setitem(positions.POSITION_ENCODINGS, "parity", scheme)


def test_a_new_scheme_needs_only_its_module_and_a_registry_entry(toy_scheme, tmp_path):
    model = GPT(11, 8, 1, 2, 6, pos_encoding="parity")
    assert isinstance(model.embedding.position_encoding, EveryOtherPosition)
    assert model.max_seq_len == 6  # a table scheme limits the length
    ids = np.array([[1, 2, 3, 1, 2, 3]])
    logits = model(ids).data
    # Token 1 sits at positions 0 (even) and 3 (odd): the scheme tells them apart.
    assert not np.allclose(logits[0, 0], logits[0, 3])
    assert GPTConfig.from_dict(model.config.to_dict()).pos_encoding == "parity"

    argv = ["train", "--preset", "test", "--steps", "2", "--eval-interval", "2",
            "--pos-encoding", "parity", "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    trained, _, config = RunDirectory(tmp_path / "run").load_model()
    assert config.model.pos_encoding == "parity"
    assert isinstance(trained.embedding.position_encoding, EveryOtherPosition)
