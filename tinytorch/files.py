"""Writing files so that a crash, a full disk or Ctrl-C never leaves a half-written one behind."""

from __future__ import annotations

import os
import secrets


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
