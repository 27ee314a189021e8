"""`EventLog` on the `events` table: append-only, hash-chained, globally ordered."""

from __future__ import annotations

from collections.abc import Sequence

from signoff.store.chain import stamp
from signoff.store.errors import DuplicateRecord, VersionConflict
from signoff.store.records import EventEnvelope
from signoff.store.sqlite.rows import EVENT_COLUMNS, SELECT_EVENTS, event_row, marks, row_to_event
from signoff.store.sqlite.sql import Sql

_INSERT = (
    f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) "  # noqa: S608 - constant
    f"VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
)


class SqliteEventLog:
    def __init__(self, db: Sql) -> None:
        self._db = db

    def append(self, events: Sequence[EventEnvelope]) -> list[EventEnvelope]:
        last = self._db.one(
            "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"
        )
        position, prev_hash = (last[0], last[1]) if last else (0, "")
        stamped = stamp(events, position, prev_hash)
        rows = [event_row(e) for e in stamped]
        try:
            if len(rows) == 1:  # one statement is all or nothing by itself
                self._db.run(_INSERT, rows[0])
            else:
                self._append_all(rows)
        except DuplicateRecord as exc:
            if "aggregate_version" in exc.key:
                taken = self._first_taken(stamped)
                raise VersionConflict(
                    taken.aggregate_type, taken.aggregate_id, taken.aggregate_version
                ) from exc
            raise
        return stamped

    def _append_all(self, rows: list[tuple[object, ...]]) -> None:
        # All or nothing: executemany keeps the rows before a failing one, and
        # a job may catch VersionConflict and go on to commit.
        self._db.run("SAVEPOINT append_events")
        try:
            self._db.many(_INSERT, rows)
        except BaseException:
            self._db.run("ROLLBACK TO append_events")
            raise
        finally:
            self._db.run("RELEASE append_events")

    def hold(self, tenant_id: str, aggregate_type: str, aggregate_id: str) -> None:
        pass  # the writer runs every job alone

    def _first_taken(self, events: Sequence[EventEnvelope]) -> EventEnvelope:
        """The first event whose aggregate version is already committed or
        repeated earlier in the same append."""
        seen: set[tuple[str, str, str, int]] = set()
        for e in events:
            key = (e.tenant_id, e.aggregate_type, e.aggregate_id, e.aggregate_version)
            if key in seen or self._db.one(
                "SELECT 1 FROM events WHERE tenant_id = ? AND aggregate_type = ? "
                "AND aggregate_id = ? AND aggregate_version = ?",
                key,
            ):
                return e
            seen.add(key)
        return events[0]

    def stream(
        self, tenant_id: str, aggregate_type: str, aggregate_id: str, from_version: int = 1
    ) -> list[EventEnvelope]:
        rows = self._db.all(
            f"{SELECT_EVENTS} WHERE tenant_id = ? AND aggregate_type = ? AND aggregate_id = ? "
            "AND aggregate_version >= ? ORDER BY aggregate_version",
            (tenant_id, aggregate_type, aggregate_id, from_version),
        )
        return [row_to_event(r) for r in rows]

    def version(self, tenant_id: str, aggregate_type: str, aggregate_id: str) -> int:
        row = self._db.one(
            "SELECT MAX(aggregate_version) FROM events "
            "WHERE tenant_id = ? AND aggregate_type = ? AND aggregate_id = ?",
            (tenant_id, aggregate_type, aggregate_id),
        )
        return int(row[0] or 0)

    def recent(
        self, tenant_id: str, aggregate_type: str, aggregate_id: str, limit: int
    ) -> list[EventEnvelope]:
        rows = self._db.all(
            f"{SELECT_EVENTS} WHERE tenant_id = ? AND aggregate_type = ? AND aggregate_id = ? "
            "ORDER BY aggregate_version DESC LIMIT ?",
            (tenant_id, aggregate_type, aggregate_id, limit),
        )
        return [row_to_event(r) for r in reversed(rows)]

    def read_after(
        self, position: int, limit: int, *, aggregate_id: str | None = None
    ) -> list[EventEnvelope]:
        if aggregate_id is None:
            rows = self._db.all(
                f"{SELECT_EVENTS} WHERE position > ? ORDER BY position LIMIT ?", (position, limit)
            )
        else:
            rows = self._db.all(
                f"{SELECT_EVENTS} WHERE aggregate_id = ? AND position > ? "
                "ORDER BY position LIMIT ?",
                (aggregate_id, position, limit),
            )
        return [row_to_event(r) for r in rows]

    def head(self) -> int:
        row = self._db.one("SELECT MAX(position) FROM events")
        return int(row[0] or 0)

    def by_ids(self, event_ids: Sequence[str]) -> list[EventEnvelope]:
        if not event_ids:
            return []
        rows = self._db.all(
            f"{SELECT_EVENTS} WHERE event_id IN ({marks(event_ids)}) ORDER BY position",
            tuple(event_ids),
        )
        return [row_to_event(r) for r in rows]

    def hashes_at(self, positions: Sequence[int]) -> dict[int, str]:
        if not positions:
            return {}
        rows = self._db.all(
            f"SELECT position, hash FROM events WHERE position IN ({marks(positions)})",  # noqa: S608
            tuple(positions),
        )
        return {int(position): str(hash_) for position, hash_ in rows}
