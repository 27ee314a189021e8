"""`RateCounters` on two tables: proposals per (principal, run), and per
(principal, minute) for the hourly limit. One upsert each per proposal, and
reads of a single row or of at most 61 rows, whatever the history.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from signoff.store.sqlite.sql import Sql

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)  # made once: it is divided by twice per command
WINDOW = 60  # minutes before the current one that the last hour still covers
NO_RUN = ""  # how a proposal made without a run id is keyed (a run id is never empty)


def minute_of(at: datetime) -> int:
    """Whole minutes since the epoch (exact: timedelta arithmetic, no floats).
    Schema V5 backfills with the same rule from the stored UTC text."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (at - EPOCH) // MINUTE


class SqliteRateCounters:
    def __init__(self, db: Sql) -> None:
        self._db = db

    def add(self, principal_id: str, run_id: str | None, at: datetime) -> None:
        self._db.run(
            "INSERT INTO proposal_counts_by_run (principal_id, run_id, proposals) "
            "VALUES (?, ?, 1) ON CONFLICT (principal_id, run_id) "
            "DO UPDATE SET proposals = proposals + 1",
            (principal_id, run_id or NO_RUN),
        )
        minute = minute_of(at)
        row = self._db.one(
            "INSERT INTO proposal_counts_by_minute (principal_id, minute, proposals) "
            "VALUES (?, ?, 1) ON CONFLICT (principal_id, minute) "
            "DO UPDATE SET proposals = proposals + 1 RETURNING proposals",
            (principal_id, minute),
        )
        if row[0] == 1:
            # The principal's first proposal this minute: its minutes before
            # the window are out of every later read (time moves forward), so
            # they go, once a minute at most.
            self._db.run(
                "DELETE FROM proposal_counts_by_minute WHERE principal_id = ? AND minute < ?",
                (principal_id, minute - WINDOW),
            )

    def in_run(self, principal_id: str, run_id: str | None) -> int:
        row = self._db.one(
            "SELECT proposals FROM proposal_counts_by_run WHERE principal_id = ? AND run_id = ?",
            (principal_id, run_id or NO_RUN),
        )
        return int(row[0]) if row else 0

    def last_hour(self, principal_id: str, now: datetime) -> int:
        row = self._db.one(
            "SELECT COALESCE(SUM(proposals), 0) FROM proposal_counts_by_minute "
            "WHERE principal_id = ? AND minute >= ?",
            (principal_id, minute_of(now) - WINDOW),
        )
        return int(row[0])

    def counts(self, principal_id: str, run_id: str | None, now: datetime) -> tuple[int, int]:
        """`in_run` and `last_hour` in one statement (each command reads both)."""
        row = self._db.one(
            "SELECT (SELECT proposals FROM proposal_counts_by_run "
            "WHERE principal_id = ? AND run_id = ?), "
            "(SELECT COALESCE(SUM(proposals), 0) FROM proposal_counts_by_minute "
            "WHERE principal_id = ? AND minute >= ?)",
            (principal_id, run_id or NO_RUN, principal_id, minute_of(now) - WINDOW),
        )
        return int(row[0] or 0), int(row[1])
