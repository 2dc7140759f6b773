"""The README's "Coming from PyTorch" example must keep running and learning."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_coming_from_pytorch_example_runs_and_learns() -> None:
    section = README.read_text().split("## Coming from PyTorch", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(code, str(README), "exec"), namespace)
    assert namespace["loss"].item() < 0.1  # starts at ln(5) = 1.6
    assert float(printed.getvalue()) == namespace["loss"].item()
