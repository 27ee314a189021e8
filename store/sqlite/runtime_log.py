"""`RuntimeLog` on the append-only `runtime_log` table: what agents asked for."""

from __future__ import annotations

from collections.abc import Sequence

from signoff.store.records import RuntimeEntry
from signoff.store.sqlite.rows import filters
from signoff.store.sqlite.sql import Sql


class SqliteRuntimeLog:
    def __init__(self, db: Sql) -> None:
        self._db = db

    def append(self, entries: Sequence[RuntimeEntry]) -> None:
        self._db.many(
            "INSERT INTO runtime_log (entry_id, tenant_id, run_id, correlation_id, proposal_id, "
            "doc) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (e.entry_id, e.tenant_id, e.run_id, e.correlation_id, e.proposal_id,
                 e.model_dump_json())
                for e in entries
            ],
        )

    def find(
        self, *, run_id: str | None = None, correlation_id: str | None = None,
        proposal_id: str | None = None, limit: int = 500,
    ) -> list[RuntimeEntry]:
        where, args = filters(
            run_id=run_id, correlation_id=correlation_id, proposal_id=proposal_id, joiner=" OR "
        )
        rows = self._db.all(
            f"SELECT doc FROM runtime_log {where} ORDER BY rowid LIMIT ?",  # noqa: S608
            (*args, limit),
        )
        return [RuntimeEntry.model_validate_json(r[0]) for r in rows]
