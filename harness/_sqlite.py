"""One way to open the project's SQLite stores (journal, sessions): WAL, per-thread."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class ThreadLocalSQLite:
    """A SQLite database in WAL mode with one connection per thread.

    WAL lets readers and one writer work at once and lets several processes share the file;
    a 30 s busy timeout makes writers wait for each other instead of failing; autocommit
    mode (``isolation_level=None``) leaves transactions to explicit ``BEGIN IMMEDIATE``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
