"""The README's walk-through must keep running and keep learning, or it misleads new readers."""

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_walkthrough_runs_and_learns() -> None:
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exec(compile(code, str(README), "exec"), namespace)
    assert namespace["loss"].item() < 0.5  # starts at ln(vocab) = 2.6
    assert printed.getvalue().strip()
