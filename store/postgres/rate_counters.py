"""`RateCounters` on two tables, as on SQLite (`signoff.store.sqlite.
rate_counters` holds the minute arithmetic both share): proposals per
(principal, run), and per (principal, minute) for the hourly limit. Each
count is one INSERT ... ON CONFLICT DO UPDATE, atomic across processes: two
serve processes counting one principal's proposals at once both count."""

from __future__ import annotations

from datetime import datetime

from signoff.store.postgres.sql import PgSql
from signoff.store.sqlite.rate_counters import NO_RUN, WINDOW, minute_of


class PostgresRateCounters:
    def __init__(self, db: PgSql) -> None:
        self._db = db

    def add(self, principal_id: str, run_id: str | None, at: datetime) -> None:
        minute = minute_of(at)
        row = self._db.one(
            "WITH by_run AS ("
            "  INSERT INTO proposal_counts_by_run (principal_id, run_id, proposals)"
            "  VALUES (%s, %s, 1) ON CONFLICT (principal_id, run_id)"
            "  DO UPDATE SET proposals = proposal_counts_by_run.proposals + 1)"
            "INSERT INTO proposal_counts_by_minute (principal_id, minute, proposals) "
            "VALUES (%s, %s, 1) ON CONFLICT (principal_id, minute) "
            "DO UPDATE SET proposals = proposal_counts_by_minute.proposals + 1 "
            "RETURNING proposals",
            (principal_id, run_id or NO_RUN, principal_id, minute),
        )
        if row is not None and row[0] == 1:
            # The principal's first proposal this minute: its minutes before
            # the window are out of every later read, so they go, once a
            # minute at most.
            self._db.run(
                "DELETE FROM proposal_counts_by_minute WHERE principal_id = %s AND minute < %s",
                (principal_id, minute - WINDOW),
            )

    def in_run(self, principal_id: str, run_id: str | None) -> int:
        row = self._db.one(
            "SELECT proposals FROM proposal_counts_by_run "
            "WHERE principal_id = %s AND run_id = %s",
            (principal_id, run_id or NO_RUN),
        )
        return int(row[0]) if row else 0

    def last_hour(self, principal_id: str, now: datetime) -> int:
        row = self._db.one(
            "SELECT COALESCE(SUM(proposals), 0) FROM proposal_counts_by_minute "
            "WHERE principal_id = %s AND minute >= %s",
            (principal_id, minute_of(now) - WINDOW),
        )
        return int(row[0]) if row else 0

    def counts(self, principal_id: str, run_id: str | None, now: datetime) -> tuple[int, int]:
        """`in_run` and `last_hour` in one statement (each command reads both)."""
        row = self._db.one(
            "SELECT (SELECT proposals FROM proposal_counts_by_run "
            "WHERE principal_id = %s AND run_id = %s), "
            "(SELECT COALESCE(SUM(proposals), 0) FROM proposal_counts_by_minute "
            "WHERE principal_id = %s AND minute >= %s)",
            (principal_id, run_id or NO_RUN, principal_id, minute_of(now) - WINDOW),
        )
        assert row is not None  # a SELECT without FROM has one row
        return int(row[0] or 0), int(row[1])
