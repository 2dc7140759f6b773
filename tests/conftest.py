"""Suite-wide settings, and `cli`: run the `tinytorch` command in-process and check its
one-line error contract.

PyTorch is only the oracle here. Its OpenMP workers keep spinning after each op and then fight
OpenBLAS (used by NumPy) for the machine's cores, which can make a 6 ms step take 500 ms; one
torch thread keeps the suite's run time predictable without changing any result.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch

from tinytorch.cli import main

torch.set_num_threads(1)


@dataclass
class Result:
    code: int
    out: str
    err: str

    def assert_error(self, *fragments: str) -> None:
        """Exit code 2 and exactly one stderr line `tinytorch: error: ...` with `fragments`."""
        assert self.code == 2, self.err
        assert "Traceback" not in self.err
        lines = self.err.splitlines()
        assert len(lines) == 1, self.err
        assert lines[0].startswith("tinytorch: error: "), self.err
        for fragment in fragments:
            assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """cli("train", "--steps", "3") runs `tinytorch train --steps 3` and returns a Result."""

    def run(*argv: str) -> Result:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


# The Hugging Face GPT-2 directories that tests/13_transformer and tests/cli share.
pytest_plugins = ["tests.hf_gpt2_fixtures"]
