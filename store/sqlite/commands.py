"""`Commands` on two append-only tables: idempotency keys and command results."""

from __future__ import annotations

from signoff.store.records import CommandResult, IdempotencyRecord
from signoff.store.sqlite.sql import Sql


class SqliteCommands:
    def __init__(self, db: Sql) -> None:
        self._db = db

    def idempotency(self, tenant_id: str, actor_id: str, key: str) -> IdempotencyRecord | None:
        row = self._db.one(
            "SELECT payload_digest, proposal_id FROM idempotency "
            "WHERE tenant_id = ? AND actor_id = ? AND key = ?",
            (tenant_id, actor_id, key),
        )
        if row is None:
            return None
        return IdempotencyRecord(
            tenant_id=tenant_id, actor_id=actor_id, key=key, payload_digest=row[0],
            proposal_id=row[1],
        )

    def remember(self, record: IdempotencyRecord) -> None:
        self._db.run(
            "INSERT INTO idempotency (tenant_id, actor_id, key, payload_digest, proposal_id) "
            "VALUES (?, ?, ?, ?, ?)",
            (record.tenant_id, record.actor_id, record.key, record.payload_digest,
             record.proposal_id),
        )

    def add_result(self, result: CommandResult) -> None:
        self._db.run(
            "INSERT INTO command_results (command_id, proposal_id, tenant_id, doc) "
            "VALUES (?, ?, ?, ?)",
            (result.command_id, result.proposal_id, result.tenant_id, result.model_dump_json()),
        )

    def results(self, proposal_id: str) -> list[CommandResult]:
        rows = self._db.all(
            "SELECT doc FROM command_results WHERE proposal_id = ? ORDER BY seq", (proposal_id,)
        )
        return [CommandResult.model_validate_json(r[0]) for r in rows]

    def unlogged_events(self, limit: int = 10) -> list[tuple[str, str]]:
        rows = self._db.all(
            "SELECT r.proposal_id, ref.value FROM command_results AS r, "
            "json_each(r.doc, '$.event_ids') AS ref "
            "WHERE NOT EXISTS (SELECT 1 FROM events WHERE event_id = ref.value) "
            "ORDER BY r.seq LIMIT ?",
            (limit,),
        )
        return [(str(proposal_id), str(event_id)) for proposal_id, event_id in rows]
