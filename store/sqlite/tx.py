"""The store ports over one sqlite3 connection inside one transaction.

Records are kept as their JSON (`doc`) beside the columns that are searched,
so reading one back is a single `model_validate_json`. Events are the
exception: they are stored column by column (they are what people query and
what the hash chain covers) and rebuilt without re-validation, because they
were validated on the way in and replay speed depends on it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
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
log = logging.getLogger("signoff.store.outbox")
_SELECT_EVENTS = f"SELECT {', '.join(EVENT_COLUMNS)} FROM events"  # noqa: S608 - constant


def _ts(value: datetime) -> str:
    """A timestamp column that is compared or sorted in SQL: UTC at fixed
    width, so text order is time order whatever offset the caller used."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _iso(value: datetime | None) -> str | None:
    return _ts(value) if value is not None else None


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
        # All or nothing: executemany keeps the rows before a failing one, and
        # a job may catch VersionConflict and go on to commit.
        self._conn.execute("SAVEPOINT append_events")
        try:
            self._conn.executemany(
                f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "  # noqa: S608 - constant
                f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))})",
                rows,
            )
        except sqlite3.IntegrityError as exc:
            self._conn.execute("ROLLBACK TO append_events")
            self._conn.execute("RELEASE append_events")
            if "aggregate_version" not in str(exc):
                raise
            taken = self._first_taken(stamped)
            raise VersionConflict(
                taken.aggregate_type, taken.aggregate_id, taken.aggregate_version
            ) from exc
        self._conn.execute("RELEASE append_events")
        return stamped

    def _first_taken(self, events: Sequence[EventEnvelope]) -> EventEnvelope:
        """The first event whose aggregate version is already committed or
        repeated earlier in the same append."""
        seen: set[tuple[str, str, str, int]] = set()
        for e in events:
            key = (e.tenant_id, e.aggregate_type, e.aggregate_id, e.aggregate_version)
            if key in seen or self._conn.execute(
                "SELECT 1 FROM events WHERE tenant_id = ? AND aggregate_type = ? "
                "AND aggregate_id = ? AND aggregate_version = ?",
                key,
            ).fetchone():
                return e
            seen.add(key)
        return events[0]

    def stream(
        self, tenant_id: str, aggregate_type: str, aggregate_id: str, from_version: int = 1
    ) -> list[EventEnvelope]:
        rows = self._conn.execute(
            f"{_SELECT_EVENTS} WHERE tenant_id = ? AND aggregate_type = ? AND aggregate_id = ? "
            "AND aggregate_version >= ? ORDER BY aggregate_version",
            (tenant_id, aggregate_type, aggregate_id, from_version),
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
             _ts(p.created_at), _iso(p.expires_at), p.model_dump_json()),
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
            (_ts(now), limit),
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
            (tenant_id, actor_id, _ts(since)),
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

    def by_correlation(self, correlation_id: str, limit: int = 500) -> list[ProposalRecord]:
        # The expression matches the index proposals_by_correlation (schema V2).
        rows = self._conn.execute(
            "SELECT doc FROM proposals WHERE json_extract(doc, '$.correlation_id') = ? "
            "ORDER BY created_at, proposal_id LIMIT ?",
            (correlation_id, limit),
        ).fetchall()
        return [ProposalRecord.model_validate_json(r[0]) for r in rows]


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
            (_ts(now), limit),
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

    # -- leases ------------------------------------------------------------

    def claim(
        self, owner: str, now: datetime, lease_until: datetime, limit: int, *,
        max_scan: int = 10_000,
    ) -> list[OutboxMessage]:
        """Walks pending rows in position order (the partial index
        outbox_pending), remembering every aggregate whose earliest pending row
        cannot be claimed now: later rows of that aggregate wait behind it, as
        do the rows after a dead row of their aggregate. `max_scan` bounds the
        walk only once a row is chosen: rows that cannot go, however many,
        never stop the due rows behind them from going.
        Times are compared as instants, not as text."""
        dead = {
            (str(tenant_id), str(aggregate_id)): int(position)
            for tenant_id, aggregate_id, position in self._conn.execute(
                "SELECT tenant_id, aggregate_id, MIN(position) FROM outbox "
                "WHERE status = 'dead' AND aggregate_id IS NOT NULL "
                "GROUP BY tenant_id, aggregate_id")
        }
        cursor = self._conn.execute(
            f"SELECT {self._COLUMNS}, tenant_id, aggregate_id, lease_owner, lease_until "  # noqa: S608
            # The partial index walks pending rows in order; left to itself the
            # planner picks outbox_due and sorts every pending row per claim.
            "FROM outbox INDEXED BY outbox_pending WHERE status = 'pending' ORDER BY position"
        )
        blocked: set[tuple[str, str]] = set()
        chosen: list[Any] = []
        scanned = 0
        try:
            for row in cursor:
                if len(chosen) >= limit or (chosen and scanned >= max_scan):
                    break
                scanned += 1
                *record, tenant_id, aggregate_id, holder, until = row
                key = (tenant_id, aggregate_id) if aggregate_id is not None else None
                if key is not None and (key in blocked or record[0] > dead.get(key, record[0])):
                    blocked.add(key)
                    continue
                next_at = record[3]
                due = next_at is None or datetime.fromisoformat(next_at) <= now
                free = until is None or holder == owner or datetime.fromisoformat(until) <= now
                if due and free:
                    chosen.append(record)
                elif key is not None:
                    blocked.add(key)
        finally:
            cursor.close()
        if scanned > max_scan:
            log.warning("outbox claim scanned %d pending rows (cap %d) to find one it could "
                        "take: rows held back by dead rows, leases or retries pile up",
                        scanned, max_scan, extra={"scanned": scanned, "max_scan": max_scan})
        if chosen:
            self._conn.executemany(
                "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE position = ?",
                [(owner, lease_until.isoformat(), r[0]) for r in chosen],
            )
        return self._load(chosen)

    def complete(self, owner: str, message_id: str, at: datetime) -> bool:
        cur = self._conn.execute(
            "UPDATE outbox SET status = 'published', published_at = ?, attempts = attempts + 1, "
            "lease_owner = NULL, lease_until = NULL "
            "WHERE message_id = ? AND lease_owner = ? AND status = 'pending'",
            (at.isoformat(), message_id, owner),
        )
        return cur.rowcount == 1

    def fail(
        self, owner: str, message_id: str, error: str, next_attempt_at: datetime | None, *,
        dead: bool,
    ) -> bool:
        cur = self._conn.execute(
            "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, "
            "next_attempt_at = ?, lease_owner = NULL, lease_until = NULL "
            "WHERE message_id = ? AND lease_owner = ? AND status = 'pending'",
            ("dead" if dead else "pending", error, _iso(next_attempt_at), message_id, owner),
        )
        return cur.rowcount == 1

    def release(self, owner: str, message_ids: Sequence[str]) -> None:
        self._conn.executemany(
            "UPDATE outbox SET lease_owner = NULL, lease_until = NULL "
            "WHERE message_id = ? AND lease_owner = ?",
            [(m, owner) for m in message_ids],
        )

    def retry(self, message_id: str) -> OutboxMessage | None:
        cur = self._conn.execute(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = NULL, "
            "lease_owner = NULL, lease_until = NULL WHERE message_id = ? AND status = 'dead'",
            (message_id,),
        )
        return self.get(message_id) if cur.rowcount == 1 else None

    def get(self, message_id: str) -> OutboxMessage | None:
        rows = self._conn.execute(
            f"SELECT {self._COLUMNS} FROM outbox WHERE message_id = ?",  # noqa: S608
            (message_id,),
        ).fetchall()
        found = self._load(rows)
        return found[0] if found else None

    def by_causation(self, causation_id: str, limit: int = 500) -> list[OutboxMessage]:
        # The expression matches the index outbox_by_causation (schema V2).
        rows = self._conn.execute(
            f"SELECT {self._COLUMNS} FROM outbox "  # noqa: S608
            "WHERE json_extract(doc, '$.causation_id') = ? ORDER BY position LIMIT ?",
            (causation_id, limit),
        ).fetchall()
        return self._load(rows)

    def published_at(self, message_ids: Sequence[str]) -> dict[str, datetime]:
        if not message_ids:
            return {}
        marks = ", ".join("?" * len(message_ids))
        rows = self._conn.execute(
            f"SELECT message_id, published_at FROM outbox WHERE message_id IN ({marks}) "  # noqa: S608
            "AND published_at IS NOT NULL",
            tuple(message_ids),
        ).fetchall()
        return {str(m): datetime.fromisoformat(at) for m, at in rows}

    def in_flight(self, now: datetime) -> int:
        rows = self._conn.execute(
            "SELECT lease_until FROM outbox WHERE status = 'pending' AND lease_until IS NOT NULL"
        ).fetchall()
        return sum(1 for (until,) in rows if datetime.fromisoformat(until) > now)


class SqliteInbox:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def record(self, consumer: str, message_id: str, at: datetime) -> bool:
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO inbox (consumer, message_id, processed_at) VALUES (?, ?, ?)",
            (consumer, message_id, at.isoformat()),
        )
        return cur.rowcount == 1

    def handled(self, message_ids: Sequence[str]) -> list[tuple[str, str, datetime]]:
        if not message_ids:
            return []
        marks = ", ".join("?" * len(message_ids))
        rows = self._conn.execute(
            f"SELECT consumer, message_id, processed_at FROM inbox "  # noqa: S608
            f"WHERE message_id IN ({marks}) ORDER BY processed_at, consumer",
            tuple(message_ids),
        ).fetchall()
        return [(str(c), str(m), datetime.fromisoformat(at)) for c, m, at in rows]


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
