"""`RuntimeLog` on the append-only `runtime_log` table: what agents asked for."""

from __future__ import annotations

from collections.abc import Sequence

from signoff.store.postgres.rows import filters
from signoff.store.postgres.sql import PgSql
from signoff.store.records import RuntimeEntry

_INSERT = (
    "INSERT INTO runtime_log (entry_id, tenant_id, run_id, correlation_id, proposal_id, doc) "
    "VALUES (%s, %s, %s, %s, %s, %s)"
)


class PostgresRuntimeLog:
    def __init__(self, db: PgSql) -> None:
        self._db = db

    def append(self, entries: Sequence[RuntimeEntry]) -> None:
        rows = [
            (e.entry_id, e.tenant_id, e.run_id, e.correlation_id, e.proposal_id,
             e.model_dump_json())
            for e in entries
        ]
        if len(rows) == 1:
            self._db.insert_once(
                f"{_INSERT} ON CONFLICT DO NOTHING", rows[0], table="runtime_log",
                keys=[("entry_id",)], values={"entry_id": entries[0].entry_id})
        elif rows:
            with self._db.savepoint("runtime_append"):  # all or nothing
                self._db.many(_INSERT, rows)

    def find(
        self, *, run_id: str | None = None, correlation_id: str | None = None,
        proposal_id: str | None = None, limit: int = 500,
    ) -> list[RuntimeEntry]:
        where, args = filters(
            run_id=run_id, correlation_id=correlation_id, proposal_id=proposal_id, joiner=" OR "
        )
        rows = self._db.all(
            f"SELECT doc FROM runtime_log {where} ORDER BY seq LIMIT %s",  # noqa: S608
            (*args, limit),
        )
        return [RuntimeEntry.model_validate_json(r[0]) for r in rows]
