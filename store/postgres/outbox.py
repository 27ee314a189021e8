"""`Outbox` on the `outbox` table: messages to publish after the commit, and
the leases relays take on them, from any number of processes.

A claim walks the pending rows in position order exactly as SQLite's does
(`signoff.store.sqlite.outbox` holds the rules both share: which rows go
out in order with each other, how far a walk goes), then locks the rows it
chose with FOR UPDATE SKIP LOCKED, rechecking that each is still pending,
due and free. A chosen row that another relay's claim holds or has just
taken is skipped, and so is every later row of its aggregate (or upstream):
two relays never lease one row, nor overtake each other within an
aggregate, and neither waits for the other.

What SQL needs of a message is a column, filled from the record when it is
added: its ordering group and, for a row that carries a committed event,
that event's position and hash (for `unlogged_events`).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from signoff.store.postgres.rows import filters
from signoff.store.postgres.sql import PgSql, Row
from signoff.store.records import OutboxMessage
from signoff.store.sqlite import outbox as shared

log = logging.getLogger("signoff.store.outbox")
PAGE = 500  # pending rows read per statement while a claim walks them
CLAIM_ROUNDS = 4  # walks past rows another relay's claim holds, before giving up
_COLUMNS = "position, status, attempts, next_attempt_at, last_error, doc"
_INSERT = (
    "INSERT INTO outbox (message_id, tenant_id, topic, aggregate_id, correlation_id, "
    "causation_id, order_group, event_position, event_hash, status, attempts, "
    "next_attempt_at, doc) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_LOCK = (
    "SELECT position FROM outbox WHERE position = ANY(%s) AND status = 'pending' "
    "AND (lease_until IS NULL OR lease_owner = %s OR lease_until <= %s) "
    "AND (next_attempt_at IS NULL OR next_attempt_at <= %s) FOR UPDATE SKIP LOCKED"
)


def _row(m: OutboxMessage) -> tuple[Any, ...]:
    doc = m.model_dump_json()
    group = shared.ordering_group(m.topic, m.tenant_id, doc)
    carried = m.payload.get("event_id") == m.message_id
    return (
        m.message_id, m.tenant_id, m.topic, m.aggregate_id, m.correlation_id, m.causation_id,
        group[1] if group else None,
        int(m.payload.get("position") or 0) if carried else None,
        str(m.payload.get("hash") or "") if carried else None,
        m.status, m.attempts, m.next_attempt_at, doc,
    )


def _load(rows: Sequence[Row]) -> list[OutboxMessage]:
    out = []
    for position, status, attempts, next_at, error, doc in rows:
        message = OutboxMessage.model_validate_json(doc)
        out.append(message.model_copy(update={
            "position": position, "status": status, "attempts": attempts,
            "next_attempt_at": next_at, "last_error": error,
        }))
    return out


class PostgresOutbox:
    def __init__(self, db: PgSql) -> None:
        self._db = db

    def add(self, messages: Sequence[OutboxMessage]) -> None:
        rows = [_row(m) for m in messages]
        if len(rows) == 1:
            self._db.insert_once(
                f"{_INSERT} ON CONFLICT DO NOTHING", rows[0], table="outbox",
                keys=[("message_id",)], values={"message_id": messages[0].message_id})
        elif rows:
            with self._db.savepoint("outbox_add"):  # all or nothing
                self._db.many(_INSERT, rows)

    def find(
        self, *, status: str | None = None, correlation_id: str | None = None, limit: int = 100
    ) -> list[OutboxMessage]:
        where, args = filters(status=status, correlation_id=correlation_id)
        rows = self._db.all(
            f"SELECT {_COLUMNS} FROM outbox {where} ORDER BY position LIMIT %s",  # noqa: S608
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
        # Another relay's claim may hold rows it has not committed its lease on
        # yet: this one sees them free, and SKIP LOCKED then passes them by.
        # It walks on past them (and the rest of their ordering groups) for a
        # few rounds, rather than come back empty beside rows others leave.
        chosen: list[Row] = []
        passed: set[int] = set()  # positions taken here, or held by another claim
        held: set[tuple[str, str]] = set()  # groups another claim holds a row of
        for _ in range(CLAIM_ROUNDS):
            candidates = self._candidates(owner, now, limit - len(chosen), leave,
                                          passed=passed, held=held)
            if not candidates:
                break
            locked = {int(r[0]) for r in self._db.all(
                _LOCK, ([int(c[0][0]) for c in candidates], owner, now, now))}
            for record, group in candidates:
                position = int(record[0])
                passed.add(position)
                if group is not None and group in held:
                    continue
                if position in locked:
                    chosen.append(record)
                elif group is not None:  # taken by another relay meanwhile
                    held.add(group)
            if len(locked) == len(candidates) or len(chosen) >= limit:
                break
        if chosen:
            self._db.run(
                "UPDATE outbox SET lease_owner = %s, lease_until = %s WHERE position = ANY(%s)",
                (owner, lease_until, [int(r[0]) for r in chosen]),
            )
        return _load(chosen)

    def _candidates(
        self, owner: str, now: datetime, limit: int, leave: Collection[str], *,
        passed: Collection[int] = (), held: Collection[tuple[str, str]] = (),
    ) -> list[tuple[Row, tuple[str, str] | None]]:
        """The rows a claim would take, with their ordering group, walking the
        pending rows as SQLite's claim does (see its docstring), past the
        positions already `passed` and holding back the groups `held`."""
        dead = {
            (str(tenant_id), str(aggregate_id)): int(position)
            for tenant_id, aggregate_id, position in self._db.all(
                "SELECT tenant_id, aggregate_id, MIN(position) FROM outbox "
                "WHERE status = 'dead' AND aggregate_id IS NOT NULL "
                "GROUP BY tenant_id, aggregate_id")
        }
        blocked: set[tuple[str, str]] = set(held)
        chosen: list[tuple[Row, tuple[str, str] | None]] = []
        scanned, after, max_scan = 0, 0, shared.MAX_SCAN
        while len(chosen) < limit and not (chosen and scanned >= max_scan):
            page = self._db.all(
                f"SELECT {_COLUMNS}, tenant_id, aggregate_id, lease_owner, lease_until, "  # noqa: S608
                "topic, order_group FROM outbox WHERE status = 'pending' AND position > %s "
                "ORDER BY position LIMIT %s", (after, PAGE))
            for row in page:
                if len(chosen) >= limit or (chosen and scanned >= max_scan):
                    break
                scanned += 1
                after = int(row[0])
                *record, tenant_id, aggregate_id, holder, until, topic, order_group = row
                key = (tenant_id, aggregate_id) if aggregate_id is not None else None
                group = (tenant_id, order_group) if order_group is not None else key
                if int(record[0]) in passed:
                    continue
                behind_dead = key is not None and record[0] > dead.get(key, record[0])
                if group is not None and (group in blocked or behind_dead):
                    blocked.add(group)
                    continue
                due = record[3] is None or record[3] <= now
                free = until is None or holder == owner or until <= now
                if due and free and topic not in leave:
                    chosen.append((tuple(record), group))
                elif group is not None:
                    blocked.add(group)
            if len(page) < PAGE:
                break
        if scanned > max_scan:
            log.warning("outbox claim scanned %d pending rows (cap %d) to find one it could "
                        "take: rows held back by dead rows, leases or retries pile up",
                        scanned, max_scan, extra={"scanned": scanned, "max_scan": max_scan})
        return chosen

    def complete(self, owner: str, message_id: str, at: datetime) -> bool:
        return self.complete_many(owner, [message_id], at) == 1

    def complete_many(self, owner: str, message_ids: Sequence[str], at: datetime) -> int:
        if not message_ids:
            return 0
        cur = self._db.run(
            "UPDATE outbox SET status = 'published', published_at = %s, "
            "attempts = attempts + 1, lease_owner = NULL, lease_until = NULL "
            "WHERE message_id = ANY(%s) AND lease_owner = %s AND status = 'pending'",
            (at, list(message_ids), owner),
        )
        return int(cur.rowcount)

    def fail(
        self, owner: str, message_id: str, error: str, next_attempt_at: datetime | None, *,
        dead: bool,
    ) -> bool:
        cur = self._db.run(
            "UPDATE outbox SET status = %s, attempts = attempts + 1, last_error = %s, "
            "next_attempt_at = %s, lease_owner = NULL, lease_until = NULL "
            "WHERE message_id = %s AND lease_owner = %s AND status = 'pending'",
            ("dead" if dead else "pending", error, next_attempt_at, message_id, owner),
        )
        return cur.rowcount == 1

    def release(self, owner: str, message_ids: Sequence[str]) -> None:
        if message_ids:
            self._db.run(
                "UPDATE outbox SET lease_owner = NULL, lease_until = NULL "
                "WHERE message_id = ANY(%s) AND lease_owner = %s",
                (list(message_ids), owner),
            )

    def retry(self, message_id: str) -> OutboxMessage | None:
        rows = self._db.all(
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = NULL, "  # noqa: S608
            "lease_owner = NULL, lease_until = NULL WHERE message_id = %s AND status = 'dead' "
            f"RETURNING {_COLUMNS}",
            (message_id,),
        )
        found = _load(rows)
        return found[0] if found else None

    def get(self, message_id: str) -> OutboxMessage | None:
        rows = self._db.all(
            f"SELECT {_COLUMNS} FROM outbox WHERE message_id = %s",  # noqa: S608
            (message_id,),
        )
        found = _load(rows)
        return found[0] if found else None

    def by_causation(self, causation_id: str, limit: int = 500) -> list[OutboxMessage]:
        rows = self._db.all(
            f"SELECT {_COLUMNS} FROM outbox WHERE causation_id = %s "  # noqa: S608
            "ORDER BY position LIMIT %s",
            (causation_id, limit),
        )
        return _load(rows)

    def published_at(self, message_ids: Sequence[str]) -> dict[str, datetime]:
        if not message_ids:
            return {}
        rows = self._db.all(
            "SELECT message_id, published_at FROM outbox "
            "WHERE message_id = ANY(%s) AND published_at IS NOT NULL",
            (list(message_ids),),
        )
        return {str(m): at for m, at in rows}

    def in_flight(self, now: datetime) -> int:
        row = self._db.one(
            "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND lease_until > %s", (now,)
        )
        return int(row[0]) if row else 0

    def unlogged_events(self, limit: int = 10) -> list[tuple[str, int]]:
        rows = self._db.all(
            "SELECT o.message_id, o.event_position FROM outbox AS o "
            "LEFT JOIN events AS e ON e.event_id = o.message_id "
            "WHERE o.event_position IS NOT NULL AND (e.position IS NULL "
            "OR e.position <> o.event_position OR e.hash <> o.event_hash) "
            "ORDER BY o.event_position LIMIT %s",
            (limit,),
        )
        return [(str(message_id), int(position)) for message_id, position in rows]
