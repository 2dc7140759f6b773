"""Files that cannot hurt: writes that a crash never leaves half done, reads bounded in size.

A crash, a full disk or Ctrl-C never leaves a half-written file behind (`atomic_write_bytes`),
and reading a file of the wrong size or shape ends in one clear error, never in a huge
allocation or a traceback from deep inside a parser.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from typing import Any


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace `path` with `data` so that readers see the old file or the new one, never a mix.

    The temp file lives in the same directory (os.replace is only atomic within a filesystem)
    and is fsynced before the rename, so the new name never points at unwritten blocks. On any
    failure the temp file is removed and the previous file is left untouched.
    """
    path = os.fspath(path)
    tmp = os.path.join(
        os.path.dirname(os.path.abspath(path)),
        f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp",
    )
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies, as for open()
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(error, OSError) and error.filename is None and error.errno is not None:
            # A failed write(2) names no file ("No space left on device"); say which one.
            raise OSError(error.errno, error.strerror, path) from error
        raise


def read_bytes(path: str | os.PathLike[str], *, limit: int) -> bytes:
    """The bytes of a file, refusing (ValueError) one larger than `limit` before reading it.

    A file is read whole only once its size is known to be sane, so a multi-gigabyte or sparse
    file in place of a small one costs nothing to refuse. A missing file raises
    FileNotFoundError.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size  # 0 for a pipe: then the reads below are the bound
        data = b"" if size > limit else f.read(size + 1) if size else _read_up_to(f, limit + 1)
    if size > limit or len(data) > limit:
        known = f" ({size:,} bytes)" if size > limit else ""
        raise ValueError(f"{os.fspath(path)}: larger than the {limit:,} bytes allowed{known}")
    return data


def _read_up_to(f: Any, limit: int, chunk: int = 1 << 16) -> bytes:
    """At most `limit` bytes of a stream of unknown size, without allocating `limit` up front."""
    parts, total = [], 0
    while total < limit:
        part = f.read(min(chunk, limit - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    return b"".join(parts)


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """The sha256 of a file of any size, read in chunks (never whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while part := f.read(chunk):
            digest.update(part)
    return digest.hexdigest()


def read_json(path: str | os.PathLike[str], *, limit: int, object_pairs_hook: Any = None) -> Any:
    """A JSON document, or a ValueError naming the file and what is wrong with it."""
    return parse_json(read_bytes(path, limit=limit), path, object_pairs_hook=object_pairs_hook)


def parse_json(raw: bytes, path: str | os.PathLike[str], *, object_pairs_hook: Any = None) -> Any:
    """The JSON document in `raw`, read from `path` (named in errors): for a caller that also
    hashes the bytes, so it checks the very bytes it parses."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{os.fspath(path)}: not UTF-8 text ({e})") from e
    try:
        return json.loads(text, object_pairs_hook=object_pairs_hook)
    except ValueError as e:  # also an integer of thousands of digits, or the hook's refusal
        raise ValueError(f"{os.fspath(path)}: corrupt or truncated JSON ({e})") from e
    except RecursionError:  # a crafted [[[[...]]]]; ours are a few levels deep
        raise ValueError(f"{os.fspath(path)}: corrupt JSON (nested too deeply)") from None
