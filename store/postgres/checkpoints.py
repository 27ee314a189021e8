"""`Checkpoints` on the `checkpoints` table: how far each consumer of the
event log has read."""

from __future__ import annotations

from signoff.store.postgres.sql import PgSql


class PostgresCheckpoints:
    def __init__(self, db: PgSql) -> None:
        self._db = db

    def get(self, name: str) -> int:
        row = self._db.one("SELECT position FROM checkpoints WHERE name = %s", (name,))
        return int(row[0]) if row else 0

    def set(self, name: str, position: int) -> None:
        self._db.run(
            "INSERT INTO checkpoints (name, position) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
            (name, position),
        )

    def all(self) -> dict[str, int]:
        rows = self._db.all("SELECT name, position FROM checkpoints ORDER BY name")
        return {str(name): int(position) for name, position in rows}
