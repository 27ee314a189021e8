"""The SQLite schema: the numbered migrations (`migrations.py`), applied in order.

`PRAGMA user_version` records how far a database has come.
"""

from __future__ import annotations

import sqlite3

from signoff.store.errors import SchemaTooNew
from signoff.store.sqlite.migrations import (
    APPEND_ONLY,
    MIGRATIONS,
    UNIQUE_KEYS,
    V1,
    V2,
    V3,
    V4,
    V5,
)

__all__ = ["APPEND_ONLY", "MIGRATIONS", "UNIQUE_KEYS", "V1", "V2", "V3", "V4", "V5", "migrate"]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to the newest schema; returns its version.

    The version is read again under the write lock, so two processes opening
    a fresh file at once apply each migration exactly once."""
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if current > len(MIGRATIONS):
                raise SchemaTooNew(
                    f"database schema v{current} is newer than this signoff (v{len(MIGRATIONS)})"
                )
            if current == len(MIGRATIONS):
                conn.execute("COMMIT")
                return current
            # executescript would COMMIT first; run statements one by one instead.
            for statement in _statements(MIGRATIONS[current]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {current + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    """Split a script on complete statements (triggers contain semicolons)."""
    out: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                out.append(buffer.strip())
            buffer = ""
    return out
