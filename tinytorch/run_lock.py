"""One writer per run directory: an OS lock that dies with the process holding it.

The lock is `flock` on a file inside the directory. The kernel releases it when its holder
exits, however it exits (kill -9 included), so a killed run never blocks the next one, as a pid
file alone would (its process may be dead, or its pid reused). The holder writes its pid into
the file, so that a writer that is refused can say who holds the directory. Every command that
writes a run (training, exporting) takes it through `RunLock.acquire`.
"""

from __future__ import annotations

import errno
import fcntl
import os

from tinytorch.checkpoint_error import CheckpointError

LOCK_FILE = ".tinytorch.lock"


class RunLock:
    """The held lock of one run directory; `release` (or process exit) frees it."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, directory: str) -> RunLock:
        """Take the lock of `directory` at once, or raise CheckpointError naming its holder."""
        fd = os.open(os.path.join(directory, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "another process"
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            raise CheckpointError(
                f"{directory}: in use by process {holder} (another tinytorch training or export "
                "of this run); wait for it to finish or choose another directory"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        return cls(fd)

    def release(self) -> None:
        """Free the lock. The file stays: removing it could let two writers lock two files."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
