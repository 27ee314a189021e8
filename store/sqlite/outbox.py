"""`Outbox` on the `outbox` table: messages to publish after the commit, and
the leases relays take on them."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from signoff.store.records import OutboxMessage
from signoff.store.sqlite.rows import filters, marks, ts_or_none
from signoff.store.sqlite.sql import Sql

log = logging.getLogger("signoff.store.outbox")
# How many pending rows one claim looks at once it has chosen a row: it holds
# the writer for the walk, and the rest can wait for the next claim.
MAX_SCAN = 10_000
# A row as one JSON document: the message as added, with the columns a relay
# changes written over it by SQLite, so reading a row back is one validation
# and no copy (issue 13).
_COLUMNS = (
    "position, next_attempt_at, json_set(doc, '$.position', position, '$.status', status, "
    "'$.attempts', attempts, '$.next_attempt_at', next_attempt_at, '$.last_error', last_error)"
)


def ordering_group(topic: str, tenant_id: str, doc: str) -> tuple[str, str] | None:
    """Rows that go out in order with each other beyond their aggregate's:
    every call to one upstream (in one tenant), so upstream calls are made
    in the order they were approved, even across passes and relays."""
    if not topic.startswith("tool_call."):
        return None
    event = json.loads(doc).get("payload")
    upstream = event.get("payload", {}).get("upstream") if isinstance(event, dict) else None
    return (tenant_id, f"upstream:{upstream}") if isinstance(upstream, str) else None


def _load(rows: list[Any]) -> list[OutboxMessage]:
    """Messages from rows selected as `_COLUMNS`."""
    return [OutboxMessage.model_validate_json(row[2]) for row in rows]


class SqliteOutbox:
    def __init__(self, db: Sql) -> None:
        self._db = db

    def add(self, messages: Sequence[OutboxMessage]) -> None:
        self._db.many(
            "INSERT INTO outbox (message_id, tenant_id, topic, aggregate_id, correlation_id, "
            "causation_id, status, attempts, next_attempt_at, doc) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (m.message_id, m.tenant_id, m.topic, m.aggregate_id, m.correlation_id,
                 m.causation_id, m.status, m.attempts, ts_or_none(m.next_attempt_at),
                 m.model_dump_json())
                for m in messages
            ],
        )

    def find(
        self, *, status: str | None = None, correlation_id: str | None = None, limit: int = 100
    ) -> list[OutboxMessage]:
        where, args = filters(status=status, correlation_id=correlation_id)
        rows = self._db.all(
            f"SELECT {_COLUMNS} FROM outbox {where} ORDER BY position LIMIT ?",  # noqa: S608
            (*args, limit),
        )
        return _load(rows)

    def counts(self) -> dict[str, int]:
        rows = self._db.all("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        return {str(status): int(n) for status, n in rows}

    # -- leases ------------------------------------------------------------

    def claim(
        self, owner: str, now: datetime, lease_until: datetime, limit: int,
        leave: Collection[str] = (),
    ) -> list[OutboxMessage]:
        """Walks pending rows in position order (the partial index
        outbox_pending), remembering every aggregate whose earliest pending row
        cannot be claimed now: later rows of that aggregate wait behind it, as
        do the rows after a dead row of their aggregate. MAX_SCAN bounds the
        walk only once a row is chosen: rows that cannot go, however many,
        never stop the due rows behind them from going.
        Times are compared as instants, not as text."""
        dead = {
            (str(tenant_id), str(aggregate_id)): int(position)
            for tenant_id, aggregate_id, position in self._db.all(
                "SELECT tenant_id, aggregate_id, MIN(position) FROM outbox "
                "WHERE status = 'dead' AND aggregate_id IS NOT NULL "
                "GROUP BY tenant_id, aggregate_id")
        }
        cursor = self._db.run(
            "SELECT position, next_attempt_at, doc, tenant_id, aggregate_id, lease_owner, "
            "lease_until, topic "
            # The partial index walks pending rows in order; left to itself the
            # planner picks outbox_due and sorts every pending row per claim.
            "FROM outbox INDEXED BY outbox_pending WHERE status = 'pending' ORDER BY position"
        )
        blocked: set[tuple[str, str]] = set()
        chosen: list[Any] = []
        scanned = 0
        with self._db.guard(), contextlib.closing(cursor):
            for row in cursor:
                if len(chosen) >= limit or (chosen and scanned >= MAX_SCAN):
                    break
                scanned += 1
                *record, tenant_id, aggregate_id, holder, until, topic = row
                position, next_at, doc = record
                key = (tenant_id, aggregate_id) if aggregate_id is not None else None
                group = ordering_group(topic, tenant_id, doc) or key
                held = key is not None and position > dead.get(key, position)
                if group is not None and (group in blocked or held):
                    blocked.add(group)
                    continue
                due = next_at is None or datetime.fromisoformat(next_at) <= now
                free = until is None or holder == owner or datetime.fromisoformat(until) <= now
                if due and free and topic not in leave:
                    chosen.append(record)
                elif group is not None:
                    blocked.add(group)
        if scanned > MAX_SCAN:
            log.warning("outbox claim scanned %d pending rows (cap %d) to find one it could "
                        "take: rows held back by dead rows, leases or retries pile up",
                        scanned, MAX_SCAN, extra={"scanned": scanned, "max_scan": MAX_SCAN})
        if not chosen:
            return []
        self._db.many(
            "UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE position = ?",
            [(owner, lease_until.isoformat(), r[0]) for r in chosen],
        )
        # Read again, as documents, only the rows taken: the walk may pass
        # many more that cannot go.
        return _load(self._db.all(
            f"SELECT {_COLUMNS} FROM outbox "  # noqa: S608
            "WHERE position IN (SELECT value FROM json_each(?)) ORDER BY position",
            (json.dumps([r[0] for r in chosen]),),
        ))

    def complete(self, owner: str, message_id: str, at: datetime) -> bool:
        return self.complete_many(owner, [message_id], at) == 1

    def complete_many(self, owner: str, message_ids: Sequence[str], at: datetime) -> int:
        if not message_ids:
            return 0
        published = at.isoformat()
        cur = self._db.many(
            "UPDATE outbox SET status = 'published', published_at = ?, attempts = attempts + 1, "
            "lease_owner = NULL, lease_until = NULL "
            "WHERE message_id = ? AND lease_owner = ? AND status = 'pending'",
            [(published, message_id, owner) for message_id in message_ids],
        )
        return cur.rowcount  # executemany sums the rows each UPDATE changed

    def fail(
        self, owner: str, message_id: str, error: str, next_attempt_at: datetime | None, *,
        dead: bool,
    ) -> bool:
        cur = self._db.run(
            "UPDATE outbox SET status = ?, attempts = attempts + 1, last_error = ?, "
            "next_attempt_at = ?, lease_owner = NULL, lease_until = NULL "
            "WHERE message_id = ? AND lease_owner = ? AND status = 'pending'",
            ("dead" if dead else "pending", error, ts_or_none(next_attempt_at), message_id,
             owner),
        )
        return cur.rowcount == 1

    def release(self, owner: str, message_ids: Sequence[str]) -> None:
        self._db.many(
            "UPDATE outbox SET lease_owner = NULL, lease_until = NULL "
            "WHERE message_id = ? AND lease_owner = ?",
            [(m, owner) for m in message_ids],
        )

    def retry(self, message_id: str) -> OutboxMessage | None:
        cur = self._db.run(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = NULL, "
            "lease_owner = NULL, lease_until = NULL WHERE message_id = ? AND status = 'dead'",
            (message_id,),
        )
        return self.get(message_id) if cur.rowcount == 1 else None

    def get(self, message_id: str) -> OutboxMessage | None:
        rows = self._db.all(
            f"SELECT {_COLUMNS} FROM outbox WHERE message_id = ?",  # noqa: S608
            (message_id,),
        )
        found = _load(rows)
        return found[0] if found else None

    def by_causation(self, causation_id: str, limit: int = 500) -> list[OutboxMessage]:
        rows = self._db.all(
            f"SELECT {_COLUMNS} FROM outbox "  # noqa: S608
            "WHERE causation_id = ? ORDER BY position LIMIT ?",
            (causation_id, limit),
        )
        return _load(rows)

    def published_at(self, message_ids: Sequence[str]) -> dict[str, datetime]:
        if not message_ids:
            return {}
        rows = self._db.all(
            f"SELECT message_id, published_at FROM outbox "  # noqa: S608
            f"WHERE message_id IN ({marks(message_ids)}) AND published_at IS NOT NULL",
            tuple(message_ids),
        )
        return {str(m): datetime.fromisoformat(at) for m, at in rows}

    def in_flight(self, now: datetime) -> int:
        rows = self._db.all(
            "SELECT lease_until FROM outbox WHERE status = 'pending' AND lease_until IS NOT NULL"
        )
        return sum(1 for (until,) in rows if datetime.fromisoformat(until) > now)

    def unlogged_events(self, limit: int = 10) -> list[tuple[str, int]]:
        # A row carries an event when its payload is that event (committer.py
        # writes one per event, the message id being the event id).
        rows = self._db.all(
            "SELECT carried.message_id, carried.position FROM ("
            "  SELECT message_id, json_extract(doc, '$.payload.position') AS position,"
            "         json_extract(doc, '$.payload.hash') AS hash"
            "  FROM outbox WHERE json_extract(doc, '$.payload.event_id') = message_id"
            ") AS carried LEFT JOIN events ON events.event_id = carried.message_id "
            "WHERE events.position IS NULL OR events.position != carried.position "
            "OR events.hash != carried.hash "
            "ORDER BY carried.position LIMIT ?",
            (limit,),
        )
        return [(str(message_id), int(position)) for message_id, position in rows]
