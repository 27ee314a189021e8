"""Opening a SQLite connection the way every signoff connection must be, and
the SQLite-only settings that go with it."""

from __future__ import annotations

import sqlite3
import time
from typing import Literal

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]
MEMORY = ":memory:"


def connect(path: str, synchronous: Synchronous = "FULL") -> sqlite3.Connection:
    """A connection configured the way every signoff connection must be."""
    memory = path == MEMORY
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    if not memory:
        _enable_wal(conn)
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def _enable_wal(conn: sqlite3.Connection, timeout: float = 10.0) -> None:
    """Switch to WAL, waiting for other writers. The pragma fails at once with
    "database is locked", ignoring busy_timeout, while another connection holds
    the write lock on a file still in rollback mode: a fresh database that
    another process is migrating."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                conn.close()
                raise
            time.sleep(0.01)
