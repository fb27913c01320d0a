"""Advisory file locks between processes (``fcntl.flock``), released when the holder dies.

Used where two judgecal processes must not do one thing at once: the first initialisation
of an MLflow SQLite store (its schema migrations race), and one calibration per experiment.
The kernel drops an ``flock`` when its process exits, however it exits (``kill -9``
included), so a lock can never be left stale by a crash.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

try:  # POSIX; elsewhere the locks are no-ops (judgecal's CI and users run on Linux/macOS)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class LockHeld(Exception):
    """Another process holds the lock.

    Attributes
    ----------
    path : Path
        The lock file.
    holder : str
        What the holder wrote into the lock file (e.g. ``"pid 1234"``), or ``""``.
    """

    def __init__(self, path: Path, holder: str) -> None:
        self.path = path
        self.holder = holder
        super().__init__(f"{path} is locked" + (f" by {holder}" if holder else ""))


@contextlib.contextmanager
def file_lock(path: str | Path, *, wait: bool = True, note: str | None = None) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` for the duration of the block.

    Parameters
    ----------
    path : str or Path
        The lock file (created with its parent directory when missing; never deleted, so
        that two processes always lock the same inode).
    wait : bool
        Block until the lock is free (True), or raise :class:`LockHeld` at once (False).
    note : str, optional
        Written into the file while the lock is held (e.g. the pid), for the message another
        process gets from :class:`LockHeld`.

    Raises
    ------
    LockHeld
        With ``wait=False``, when another process holds the lock.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                raise LockHeld(p, holder) from None
        if note is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, note.encode("utf-8"), 0)
        try:
            yield
        finally:
            if note is not None:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the descriptor releases the flock


__all__ = ["LockHeld", "file_lock"]
