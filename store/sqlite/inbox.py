"""`Inbox` on the `inbox` table: which consumer handled which message, so a
redelivered message is handled once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from signoff.store.sqlite.rows import marks
from signoff.store.sqlite.sql import Sql


class SqliteInbox:
    def __init__(self, db: Sql) -> None:
        self._db = db

    def record(self, consumer: str, message_id: str, at: datetime) -> bool:
        cur = self._db.run(
            "INSERT OR IGNORE INTO inbox (consumer, message_id, processed_at) VALUES (?, ?, ?)",
            (consumer, message_id, at.isoformat()),
        )
        return cur.rowcount == 1

    def handled(self, message_ids: Sequence[str]) -> list[tuple[str, str, datetime]]:
        if not message_ids:
            return []
        rows = self._db.all(
            f"SELECT consumer, message_id, processed_at FROM inbox "  # noqa: S608
            f"WHERE message_id IN ({marks(message_ids)}) ORDER BY processed_at, consumer",
            tuple(message_ids),
        )
        return [(str(c), str(m), datetime.fromisoformat(at)) for c, m, at in rows]
