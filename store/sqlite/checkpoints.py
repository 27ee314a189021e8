"""`Checkpoints` on the `checkpoints` table: how far each consumer of the
event log has read."""

from __future__ import annotations

import sqlite3


class SqliteCheckpoints:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def get(self, name: str) -> int:
        row = self._conn.execute(
            "SELECT position FROM checkpoints WHERE name = ?", (name,)
        ).fetchone()
        return int(row[0]) if row else 0

    def set(self, name: str, position: int) -> None:
        self._conn.execute(
            "INSERT INTO checkpoints (name, position) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            (name, position),
        )
