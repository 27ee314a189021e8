"""`EventLog` on the `events` table: append-only, hash-chained, globally ordered.

Appends are serialised by a transaction-level advisory lock (one per schema),
taken before the head is read and held until the append's transaction ends.
So positions are handed out in commit order: the next append reads the head
only after the previous one committed (write jobs run at READ COMMITTED, so
that read takes a fresh snapshot after the lock), and a reader that sees
position n sees every position below it. A rolled-back append leaves no gap,
as positions come from the head, not from a sequence. Readers never wait for
the lock.

Under the lock no other append can commit, so the taken versions and event
ids are found before inserting and the insert itself cannot fail on a key:
the transaction stays usable for a job that catches `VersionConflict`.
"""

from __future__ import annotations

from collections.abc import Sequence

from signoff.store.chain import stamp
from signoff.store.errors import DuplicateRecord, VersionConflict
from signoff.store.postgres.rows import EVENT_COLUMNS, SELECT_EVENTS, event_row, row_to_event
from signoff.store.postgres.sql import PgSql
from signoff.store.records import EventEnvelope

_INSERT = (
    f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "  # noqa: S608 - constant
    f"VALUES ({', '.join(['%s'] * len(EVENT_COLUMNS))})"
)
APPEND_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '.events', 0))"
_TAKEN = (
    "SELECT event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version FROM events "
    "WHERE event_id = ANY(%s) OR (tenant_id, aggregate_type, aggregate_id, aggregate_version) "
    "IN (SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[]))"
)

Key = tuple[str, str, str, int]


def _key(e: EventEnvelope) -> Key:
    return (e.tenant_id, e.aggregate_type, e.aggregate_id, e.aggregate_version)


class PostgresEventLog:
    def __init__(self, db: PgSql) -> None:
        self._db = db

    def append(self, events: Sequence[EventEnvelope]) -> list[EventEnvelope]:
        if not events:
            return []
        self._db.refuse_in_read()
        self._db.run(APPEND_LOCK)
        self._refuse_taken(events)
        last = self._db.one("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1")
        position, prev_hash = (int(last[0]), str(last[1])) if last else (0, "")
        stamped = stamp(events, position, prev_hash)
        self._db.many(_INSERT, [event_row(e) for e in stamped])
        return stamped

    def _refuse_taken(self, events: Sequence[EventEnvelope]) -> None:
        """Raise for the first event whose aggregate version (VersionConflict)
        or event id (DuplicateRecord) is committed or repeated earlier in
        this append."""
        keys = [_key(e) for e in events]
        rows = self._db.all(_TAKEN, (
            [e.event_id for e in events], [k[0] for k in keys], [k[1] for k in keys],
            [k[2] for k in keys], [k[3] for k in keys],
        ))
        taken_ids = {str(r[0]) for r in rows}
        taken_keys: set[Key] = {(str(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in rows}
        for e in events:
            if _key(e) in taken_keys:
                raise VersionConflict(e.aggregate_type, e.aggregate_id, e.aggregate_version)
            if e.event_id in taken_ids:
                raise DuplicateRecord("events", ("event_id",))
            taken_keys.add(_key(e))
            taken_ids.add(e.event_id)

    def hold(self, tenant_id: str, aggregate_type: str, aggregate_id: str) -> None:
        # A transaction-level advisory lock per aggregate (per schema); two
        # aggregates whose keys hash alike only wait for each other.
        self._db.run(
            "SELECT pg_advisory_xact_lock(hashtextextended("
            "current_schema() || '.aggregate:' || %s || '/' || %s || '/' || %s, 0))",
            (tenant_id, aggregate_type, aggregate_id),
        )

    def stream(
        self, tenant_id: str, aggregate_type: str, aggregate_id: str, from_version: int = 1
    ) -> list[EventEnvelope]:
        rows = self._db.all(
            f"{SELECT_EVENTS} WHERE tenant_id = %s AND aggregate_type = %s "
            "AND aggregate_id = %s AND aggregate_version >= %s ORDER BY aggregate_version",
            (tenant_id, aggregate_type, aggregate_id, from_version),
        )
        return [row_to_event(r) for r in rows]

    def version(self, tenant_id: str, aggregate_type: str, aggregate_id: str) -> int:
        row = self._db.one(
            "SELECT MAX(aggregate_version) FROM events "
            "WHERE tenant_id = %s AND aggregate_type = %s AND aggregate_id = %s",
            (tenant_id, aggregate_type, aggregate_id),
        )
        return int(row[0] or 0) if row else 0

    def recent(
        self, tenant_id: str, aggregate_type: str, aggregate_id: str, limit: int
    ) -> list[EventEnvelope]:
        rows = self._db.all(
            f"{SELECT_EVENTS} WHERE tenant_id = %s AND aggregate_type = %s "
            "AND aggregate_id = %s ORDER BY aggregate_version DESC LIMIT %s",
            (tenant_id, aggregate_type, aggregate_id, limit),
        )
        return [row_to_event(r) for r in reversed(rows)]

    def read_after(
        self, position: int, limit: int, *, aggregate_id: str | None = None
    ) -> list[EventEnvelope]:
        if aggregate_id is None:
            rows = self._db.all(
                f"{SELECT_EVENTS} WHERE position > %s ORDER BY position LIMIT %s",
                (position, limit),
            )
        else:
            rows = self._db.all(
                f"{SELECT_EVENTS} WHERE aggregate_id = %s AND position > %s "
                "ORDER BY position LIMIT %s",
                (aggregate_id, position, limit),
            )
        return [row_to_event(r) for r in rows]

    def head(self) -> int:
        row = self._db.one("SELECT MAX(position) FROM events")
        return int(row[0] or 0) if row else 0

    def by_ids(self, event_ids: Sequence[str]) -> list[EventEnvelope]:
        if not event_ids:
            return []
        rows = self._db.all(
            f"{SELECT_EVENTS} WHERE event_id = ANY(%s) ORDER BY position", (list(event_ids),)
        )
        return [row_to_event(r) for r in rows]

    def hashes_at(self, positions: Sequence[int]) -> dict[int, str]:
        if not positions:
            return {}
        rows = self._db.all(
            "SELECT position, hash FROM events WHERE position = ANY(%s)", (list(positions),)
        )
        return {int(position): str(hash_) for position, hash_ in rows}
