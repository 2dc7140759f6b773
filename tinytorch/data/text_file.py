"""Train on your own text: read a UTF-8 file with errors that say what is wrong and where."""

from __future__ import annotations

import os
from pathlib import Path

from tinytorch.files import read_bytes


def load_text(path: str | os.PathLike[str], limit: int | None = None) -> str:
    """The text of a UTF-8 file, ready to tokenize.

    A leading byte-order mark is dropped and Windows line ends become ``\\n``, so neither turns
    into a token of its own. Raises FileNotFoundError if the file is missing, and ValueError
    (naming the file) if it is not valid UTF-8 (with the byte offset), holds no text, or has more
    than `limit` bytes (checked before reading; a pipe is read only up to the limit).
    """
    path = Path(path)
    data = path.read_bytes() if limit is None else read_bytes(path, limit=limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{path} is not valid UTF-8: cannot decode byte 0x{data[e.start]:02x} "
            f"at byte offset {e.start}"
        ) from e
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    if not text.strip():
        raise ValueError(f"{path} contains no text (it is empty or only whitespace)")
    return text
