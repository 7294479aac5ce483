"""One agent per database: an advisory lock held for the agent's lifetime.

The lock is ``flock`` on a file beside the database holding the owner's
pid. Readers (``status``, ``export``) do not take it; a second agent does,
and is refused with the pid of the one that holds it. The kernel drops the
lock when its holder exits, however it exits.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from agent.errors import StoreError


def lock_path(db_path: str | Path) -> Path:
    """The lock file of the database at ``db_path``."""
    return Path(f"{db_path}.lock")


class AgentLock:
    """Hold the database at ``db_path`` for this process until ``release()``.

    Raises ``StoreError`` naming the database and the holder's pid when
    another agent holds it, or naming the lock file when it cannot be made.
    """

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        self.path = lock_path(db_path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(
                f"{self.path}: cannot create the lock file: {exc}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise StoreError(
                f"{self.db_path} is in use by another agent (pid {holder or 'unknown'})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd: int | None = fd

    def release(self) -> None:
        """Let another agent open the database; calling it again does nothing."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
