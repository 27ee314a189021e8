"""The peer: the same workload on the `eventsourcing` library's SQLite store.

One command = load the case aggregate, check it is open, save one new
aggregate's first event, in its own transaction - what signoff's auto-approved
`notice.create_draft` does for the domain (signoff also records the proposal,
its decision, idempotency and audit rows, which is the point of comparing).
eventsourcing opens its SQLite file in WAL mode and leaves `synchronous` at
SQLite's default, FULL, checked and reported. Installed by the `bench` extra
(`pip install -e '.[bench]'`); without it the peer's rows are skipped.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any


def available() -> bool:
    try:
        import eventsourcing  # noqa: F401
    except ImportError:
        return False
    return True


class Peer:
    """An eventsourcing application with one open case, proposing drafts."""

    def __init__(self, path: Path) -> None:
        from eventsourcing.application import Application
        from eventsourcing.domain import Aggregate, event

        class Case(Aggregate):
            @event("Opened")
            def __init__(self, title: str) -> None:
                self.title = title
                self.open = True

        class Notice(Aggregate):
            @event("Drafted")
            def __init__(self, case_id: str, body: str) -> None:
                self.case_id = case_id
                self.body = body

        class Desk(Application[Any]):
            def draft(self, case_id: Any, body: str) -> None:
                case: Case = self.repository.get(case_id)
                if not case.open:
                    raise ValueError("closed")
                self.save(Notice(str(case_id), body))

        self.path = path
        self.desk = Desk(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                              "SQLITE_DBNAME": str(path), "SQLITE_LOCK_TIMEOUT": "10"})
        case = Case("Northgate")
        self.desk.save(case)
        self.case_id = case.id
        self.errors = 0
        with sqlite3.connect(path) as conn:
            self.synchronous = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[
                conn.execute("PRAGMA synchronous").fetchone()[0]]
            self.journal_mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        conn.close()

    def drafts(self, n: int) -> None:
        for i in range(n):
            self.desk.draft(self.case_id, f"Benchmark notice {i}.")

    def sequential(self, n: int) -> float:
        """Commands per second, one caller."""
        start = time.perf_counter()
        self.drafts(n)
        return n / (time.perf_counter() - start)

    def concurrent(self, n: int, callers: int) -> float:
        """Commands per second, `callers` threads sharing `n` commands."""
        each = n // callers
        failures: list[BaseException] = []

        def caller() -> None:
            try:
                self.drafts(each)
            except Exception as exc:  # counted: a peer that fails under load says so
                failures.append(exc)

        threads = [threading.Thread(target=caller) for _ in range(callers)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        if failures:
            self.errors += len(failures)
            raise SystemExit(f"eventsourcing failed under {callers} callers: {failures[0]!r}")
        return each * callers / elapsed

    def close(self) -> None:
        self.desk.close()
