"""`Inbox` on the `inbox` table: which consumer handled which message, so a
redelivered message is handled once. Two consumers racing on one message:
the second insert waits for the first's transaction and then does nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from signoff.store.postgres.sql import PgSql


class PostgresInbox:
    def __init__(self, db: PgSql) -> None:
        self._db = db

    def record(self, consumer: str, message_id: str, at: datetime) -> bool:
        cur = self._db.run(
            "INSERT INTO inbox (consumer, message_id, processed_at) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            (consumer, message_id, at),
        )
        return cur.rowcount == 1

    def handled(self, message_ids: Sequence[str]) -> list[tuple[str, str, datetime]]:
        if not message_ids:
            return []
        rows = self._db.all(
            "SELECT consumer, message_id, processed_at FROM inbox "
            "WHERE message_id = ANY(%s) ORDER BY processed_at, consumer",
            (list(message_ids),),
        )
        return [(str(c), str(m), at) for c, m, at in rows]
