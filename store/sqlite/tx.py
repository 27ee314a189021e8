"""The store ports over one sqlite3 connection inside one transaction.

Records are kept as their JSON (`doc`) beside the columns that are searched,
so reading one back is a single `model_validate_json`. Events are the
exception: they are stored column by column (they are what people query and
what the hash chain covers) and rebuilt without re-validation, because they
were validated on the way in and replay speed depends on it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from signoff.store.canonical import event_hash
from signoff.store.errors import DuplicateVote, VersionConflict
from signoff.store.records import (
    CommandResult,
    DecisionRecord,
    EventEnvelope,
    IdempotencyRecord,
    OutboxMessage,
    ProposalEvent,
    ProposalRecord,
    RuntimeEntry,
    Vote,
)

EVENT_COLUMNS = (
    "position", "event_id", "tenant_id", "aggregate_type", "aggregate_id", "aggregate_version",
    "event_type", "event_version", "correlation_id", "causation_id", "run_id", "thread_id",
    "actor_type", "actor_id", "payload_schema", "payload", "occurred_at", "prev_hash", "hash",
)
_SELECT_EVENTS = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events"  # noqa: S608 - constant


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def row_to_event(row: Sequence[Any]) -> EventEnvelope:
    fields = dict(zip(EVENT_COLUMNS, row, strict=True))
    fields["payload"] = json.loads(fields["payload"])
    fields["occurred_at"] = datetime.fromisoformat(fields["occurred_at"])
    return EventEnvelope.model_construct(**fields)


class SqliteEventLog:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def append(self, events: Sequence[EventEnvelope]) -> list[EventEnvelope]:
        last = self._conn.execute(
            "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
        ).fetchone()
        position, prev_hash = (last[0], last[1]) if last else (0, "")
        stamped: list[EventEnvelope] = []
        for event in events:
            position += 1
            event = event.model_copy(update={"position": position, "prev_hash": prev_hash})
            event = event.model_copy(update={"hash": event_hash(event)})
            prev_hash = event.hash
            stamped.append(event)
        rows = [
            (
                e.position, e.event_id, e.tenant_id, e.aggregate_type, e.aggregate_id,
                e.aggregate_version, e.event_type, e.event_version, e.correlation_id,
                e.causation_id, e.run_id, e.thread_id, e.actor_type, e.actor_id,
                e.payload_schema, json.dumps(e.payload, separators=(",", ":")),
                e.occurred_at.isoformat(), e.prev_hash, e.hash,
            )
            for e in stamped
        ]
        try:
            self._conn.executemany(
                f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "  # noqa: S608 - constant
                f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))})",
                rows,
            )
        except sqlite3.IntegrityError as exc:
            if "aggregate_version" not in str(exc):
                raise
            first = stamped[0]
            raise VersionConflict(
                first.aggregate_type, first.aggregate_id, first.aggregate_version
            ) from exc
        return stamped

    def stream(self, tenant_id: str, aggregate_type: str, aggregate_id: str) -> list[EventEnvelope]:
        rows = self._conn.execute(
            f"{_SELECT_EVENTS} WHERE tenant_id = ? AND aggregate_type = ? AND aggregate_id = ? "
            "ORDER BY aggregate_version",
            (tenant_id, aggregate_type, aggregate_id),
        ).fetchall()
        return [row_to_event(r) for r in rows]

    def version(self, tenant_id: str, aggregate_type: str, aggregate_id: str) -> int:
        row = self._conn.execute(
            "SELECT MAX(aggregate_version) FROM events "
            "WHERE tenant_id = ? AND aggregate_type = ? AND aggregate_id = ?",
            (tenant_id, aggregate_type, aggregate_id),
        ).fetchone()
        return int(row[0] or 0)

    def recent(
        self, tenant_id: str, aggregate_type: str, aggregate_id: str, limit: int
    ) -> list[EventEnvelope]:
        rows = self._conn.execute(
            f"{_SELECT_EVENTS} WHERE tenant_id = ? AND aggregate_type = ? AND aggregate_id = ? "
            "ORDER BY aggregate_version DESC LIMIT ?",
            (tenant_id, aggregate_type, aggregate_id, limit),
        ).fetchall()
        return [row_to_event(r) for r in reversed(rows)]

    def read_after(
        self, position: int, limit: int, *, aggregate_id: str | None = None
    ) -> list[EventEnvelope]:
        if aggregate_id is None:
            rows = self._conn.execute(
                f"{_SELECT_EVENTS} WHERE position > ? ORDER BY position LIMIT ?", (position, limit)
            ).fetchall()
        else:
            rows = self._conn.execute(
                f"{_SELECT_EVENTS} WHERE aggregate_id = ? AND position > ? "
                "ORDER BY position LIMIT ?",
                (aggregate_id, position, limit),
            ).fetchall()
        return [row_to_event(r) for r in rows]

    def head(self) -> int:
        row = self._conn.execute("SELECT MAX(position) FROM events").fetchone()
        return int(row[0] or 0)

    def by_ids(self, event_ids: Sequence[str]) -> list[EventEnvelope]:
        if not event_ids:
            return []
        marks = ", ".join("?" * len(event_ids))
        rows = self._conn.execute(
            f"{_SELECT_EVENTS} WHERE event_id IN ({marks}) ORDER BY position", tuple(event_ids)
        ).fetchall()
        return [row_to_event(r) for r in rows]


class SqliteProposals:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add(self, proposal: ProposalRecord) -> None:
        p = proposal
        self._conn.execute(
            "INSERT INTO proposals (proposal_id, tenant_id, status, command_type, actor_id, "
            "run_id, created_at, expires_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (p.proposal_id, p.tenant_id, p.status, p.command_type, p.actor.id, p.run_id,
             p.created_at.isoformat(), _iso(p.expires_at), p.model_dump_json()),
        )

    def get(self, proposal_id: str, tenant_id: str | None) -> ProposalRecord | None:
        if tenant_id is None:
            row = self._conn.execute(
                "SELECT doc FROM proposals WHERE proposal_id = ?", (proposal_id,)
            ).fetchone()
        else:
            row = self._conn.execute(
                "SELECT doc FROM proposals WHERE proposal_id = ? AND tenant_id = ?",
                (proposal_id, tenant_id),
            ).fetchone()
        return ProposalRecord.model_validate_json(row[0]) if row else None

    def replace(self, proposal: ProposalRecord, *, expected_status: str) -> bool:
        cur = self._conn.execute(
            "UPDATE proposals SET status = ?, expires_at = ?, doc = ? "
            "WHERE proposal_id = ? AND status = ?",
            (proposal.status, _iso(proposal.expires_at), proposal.model_dump_json(),
             proposal.proposal_id, expected_status),
        )
        return cur.rowcount == 1

    def find(
        self,
        *,
        tenant_id: str | None = None,
        status: str | None = None,
        command_type: str | None = None,
        limit: int = 100,
    ) -> list[ProposalRecord]:
        where, args = _filters(tenant_id=tenant_id, status=status, command_type=command_type)
        rows = self._conn.execute(
            f"SELECT doc FROM proposals {where} ORDER BY created_at, proposal_id LIMIT ?",  # noqa: S608
            (*args, limit),
        ).fetchall()
        return [ProposalRecord.model_validate_json(r[0]) for r in rows]

    def due_for_expiry(self, now: datetime, limit: int = 500) -> list[ProposalRecord]:
        rows = self._conn.execute(
            "SELECT doc FROM proposals WHERE status = 'pending_approval' AND expires_at <= ? "
            "ORDER BY expires_at LIMIT ?",
            (now.isoformat(), limit),
        ).fetchall()
        return [ProposalRecord.model_validate_json(r[0]) for r in rows]

    def count_in_run(self, tenant_id: str, run_id: str) -> int:
        row = self._conn.execute(
            "SELECT COUNT(*) FROM proposals WHERE tenant_id = ? AND run_id = ?", (tenant_id, run_id)
        ).fetchone()
        return int(row[0])

    def count_by_actor_since(self, tenant_id: str, actor_id: str, since: datetime) -> int:
        row = self._conn.execute(
            "SELECT COUNT(*) FROM proposals WHERE tenant_id = ? AND actor_id = ? "
            "AND created_at >= ?",
            (tenant_id, actor_id, since.isoformat()),
        ).fetchone()
        return int(row[0])

    def add_event(self, event: ProposalEvent) -> ProposalEvent:
        row = self._conn.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM proposal_events WHERE proposal_id = ?",
            (event.proposal_id,),
        ).fetchone()
        event = event.model_copy(update={"seq": int(row[0])})
        self._conn.execute(
            "INSERT INTO proposal_events (proposal_id, seq, tenant_id, doc) VALUES (?, ?, ?, ?)",
            (event.proposal_id, event.seq, event.tenant_id, event.model_dump_json()),
        )
        return event

    def events(self, proposal_id: str) -> list[ProposalEvent]:
        rows = self._conn.execute(
            "SELECT doc FROM proposal_events WHERE proposal_id = ? ORDER BY seq", (proposal_id,)
        ).fetchall()
        return [ProposalEvent.model_validate_json(r[0]) for r in rows]

    def add_decision(self, decision: DecisionRecord) -> None:
        self._conn.execute(
            "INSERT INTO decisions (decision_id, proposal_id, tenant_id, doc) VALUES (?, ?, ?, ?)",
            (decision.decision_id, decision.proposal_id, decision.tenant_id,
             decision.model_dump_json()),
        )

    def decisions(self, proposal_id: str) -> list[DecisionRecord]:
        rows = self._conn.execute(
            "SELECT doc FROM decisions WHERE proposal_id = ? ORDER BY rowid", (proposal_id,)
        ).fetchall()
        return [DecisionRecord.model_validate_json(r[0]) for r in rows]

    def add_vote(self, vote: Vote) -> None:
        try:
            self._conn.execute(
                "INSERT INTO votes (vote_id, proposal_id, tenant_id, voter_id, doc) "
                "VALUES (?, ?, ?, ?, ?)",
                (vote.vote_id, vote.proposal_id, vote.tenant_id, vote.voter_id,
                 vote.model_dump_json()),
            )
        except sqlite3.IntegrityError as exc:
            if "voter_id" not in str(exc):
                raise
            raise DuplicateVote(vote.voter_id) from exc

    def votes(self, proposal_id: str) -> list[Vote]:
        rows = self._conn.execute(
            "SELECT doc FROM votes WHERE proposal_id = ? ORDER BY rowid", (proposal_id,)
        ).fetchall()
        return [Vote.model_validate_json(r[0]) for r in rows]


class SqliteCommands:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def idempotency(self, tenant_id: str, actor_id: str, key: str) -> IdempotencyRecord | None:
        row = self._conn.execute(
            "SELECT payload_digest, proposal_id FROM idempotency "
            "WHERE tenant_id = ? AND actor_id = ? AND key = ?",
            (tenant_id, actor_id, key),
        ).fetchone()
        if row is None:
            return None
        return IdempotencyRecord(
            tenant_id=tenant_id, actor_id=actor_id, key=key, payload_digest=row[0],
            proposal_id=row[1],
        )

    def remember(self, record: IdempotencyRecord) -> None:
        self._conn.execute(
            "INSERT INTO idempotency (tenant_id, actor_id, key, payload_digest, proposal_id) "
            "VALUES (?, ?, ?, ?, ?)",
            (record.tenant_id, record.actor_id, record.key, record.payload_digest,
             record.proposal_id),
        )

    def add_result(self, result: CommandResult) -> None:
        self._conn.execute(
            "INSERT INTO command_results (command_id, proposal_id, tenant_id, doc) "
            "VALUES (?, ?, ?, ?)",
            (result.command_id, result.proposal_id, result.tenant_id, result.model_dump_json()),
        )

    def results(self, proposal_id: str) -> list[CommandResult]:
        rows = self._conn.execute(
            "SELECT doc FROM command_results WHERE proposal_id = ? ORDER BY seq", (proposal_id,)
        ).fetchall()
        return [CommandResult.model_validate_json(r[0]) for r in rows]


class SqliteOutbox:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add(self, messages: Sequence[OutboxMessage]) -> None:
        self._conn.executemany(
            "INSERT INTO outbox (message_id, tenant_id, topic, aggregate_id, correlation_id, "
            "status, attempts, next_attempt_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (m.message_id, m.tenant_id, m.topic, m.aggregate_id, m.correlation_id, m.status,
                 m.attempts, _iso(m.next_attempt_at), m.model_dump_json())
                for m in messages
            ],
        )

    def _load(self, rows: list[Any]) -> list[OutboxMessage]:
        out = []
        for position, status, attempts, next_at, error, doc in rows:
            message = OutboxMessage.model_validate_json(doc)
            out.append(message.model_copy(update={
                "position": position, "status": status, "attempts": attempts,
                "next_attempt_at": datetime.fromisoformat(next_at) if next_at else None,
                "last_error": error,
            }))
        return out

    _COLUMNS = "position, status, attempts, next_attempt_at, last_error, doc"

    def pending(self, now: datetime, limit: int) -> list[OutboxMessage]:
        rows = self._conn.execute(
            f"SELECT {self._COLUMNS} FROM outbox WHERE status = 'pending' "  # noqa: S608
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY position LIMIT ?",
            (now.isoformat(), limit),
        ).fetchall()
        return self._load(rows)

    def mark_published(self, message_id: str, at: datetime) -> None:
        self._conn.execute(
            "UPDATE outbox SET status = 'published', published_at = ?, attempts = attempts + 1 "
            "WHERE message_id = ?",
            (at.isoformat(), message_id),
        )

    def mark_failed(
        self, message_id: str, error: str, next_attempt_at: datetime | None, *, dead: bool
    ) -> None:
        self._conn.execute(
            "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, "
            "next_attempt_at = ? WHERE message_id = ?",
            ("dead" if dead else "pending", error, _iso(next_attempt_at), message_id),
        )

    def find(
        self, *, status: str | None = None, correlation_id: str | None = None, limit: int = 100
    ) -> list[OutboxMessage]:
        where, args = _filters(status=status, correlation_id=correlation_id)
        rows = self._conn.execute(
            f"SELECT {self._COLUMNS} FROM outbox {where} ORDER BY position LIMIT ?",  # noqa: S608
            (*args, limit),
        ).fetchall()
        return self._load(rows)

    def counts(self) -> dict[str, int]:
        rows = self._conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()
        return {str(status): int(n) for status, n in rows}


class SqliteInbox:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def record(self, consumer: str, message_id: str, at: datetime) -> bool:
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO inbox (consumer, message_id, processed_at) VALUES (?, ?, ?)",
            (consumer, message_id, at.isoformat()),
        )
        return cur.rowcount == 1


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


class SqliteRuntimeLog:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def append(self, entries: Sequence[RuntimeEntry]) -> None:
        self._conn.executemany(
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
        where, args = _filters(
            run_id=run_id, correlation_id=correlation_id, proposal_id=proposal_id, joiner=" OR "
        )
        rows = self._conn.execute(
            f"SELECT doc FROM runtime_log {where} ORDER BY rowid LIMIT ?",  # noqa: S608
            (*args, limit),
        ).fetchall()
        return [RuntimeEntry.model_validate_json(r[0]) for r in rows]


def _filters(joiner: str = " AND ", **columns: str | None) -> tuple[str, list[str]]:
    """A WHERE clause over the given columns that are not None. Column names
    come from our own keyword arguments, never from input."""
    used = {name: value for name, value in columns.items() if value is not None}
    if not used:
        return "", []
    return "WHERE " + joiner.join(f"{name} = ?" for name in used), list(used.values())


def loads_doc(text: str) -> dict[str, Any]:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


def dumps_doc(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True, default=str)
