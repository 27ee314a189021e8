"""Signoff's own SQL, captured during real commands and replayed without it.

The honest floor for the write path is not one tiny row per commit but the
very statements signoff runs for a command, on the same data, through plain
`sqlite3` with no signoff code in between. `Capture` hooks the store's
`connect` (monkeypatched from here; the store is not edited): every
connection the store opens gets `set_trace_callback`, and the writer thread's
connection is also wrapped so each statement is recorded with its bound
parameters (the trace gives only the expanded text; replaying that would
re-parse every statement where signoff's statement cache does not). The
trace stays the count of what SQLite ran. `replay` then runs the recorded
transactions, in order, on a copy of the database as it was before them.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import signoff.store.sqlite.connection as connection_module
import signoff.store.sqlite.store as store_module

WRITER_THREAD = "signoff-sqlite-writer"
DML = ("INSERT", "UPDATE", "DELETE", "REPLACE")


@dataclass
class Statement:
    at: float  # perf_counter when signoff called execute
    sql: str
    params: Any = ()
    many: bool = False


@dataclass
class Transaction:
    statements: list[Statement]

    @property
    def commands(self) -> int:
        """Jobs in it: the writer wraps each in SAVEPOINT job when it batches."""
        return sum(s.sql == "SAVEPOINT job" for s in self.statements) or 1

    @property
    def busy(self) -> float:
        """Seconds from BEGIN to the COMMIT call: the writer's work for the
        batch, without the commit's fsync."""
        return self.statements[-1].at - self.statements[0].at


class _Recording:
    """The writer's connection, recording each statement before running it."""

    def __init__(self, conn: sqlite3.Connection, capture: Capture) -> None:
        self._conn = conn
        self._capture = capture

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        if self._capture.recording:
            self._capture.statements.append(Statement(time.perf_counter(), sql, params))
        return self._conn.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        rows = list(rows)
        if self._capture.recording:
            self._capture.statements.append(Statement(time.perf_counter(), sql, rows, True))
        return self._conn.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@dataclass
class Capture:
    """What the store's connections ran while `recording` is on."""

    recording: bool = False
    statements: list[Statement] = field(default_factory=list)  # the writer's, with params
    trace: list[str] = field(default_factory=list)  # the writer's, as SQLite reported them
    reader_trace: list[str] = field(default_factory=list)
    writer: sqlite3.Connection | None = None
    # With a trace callback set, SQLite expands every statement's text with
    # its values (triggers' too) before it runs: 100-140 µs per command that
    # signoff never pays. Timing Python inside the writer goes without it.
    tracing: bool = True

    def clear(self) -> None:
        self.statements.clear()
        self.trace.clear()
        self.reader_trace.clear()

    def transactions(self) -> list[Transaction]:
        """The recorded writer statements, cut at each BEGIN ... COMMIT."""
        out: list[Transaction] = []
        current: list[Statement] = []
        for statement in self.statements:
            current.append(statement)
            if statement.sql in ("COMMIT", "ROLLBACK"):
                if current[0].sql.startswith("BEGIN"):
                    out.append(Transaction(current))
                current = []
        return out

    def _connect(self, path: str, synchronous: Any = "FULL") -> Any:
        conn = _ORIGINAL(path, synchronous)
        writer = threading.current_thread().name == WRITER_THREAD
        sink = self.trace if writer else self.reader_trace

        def traced(sql: str) -> None:
            if self.recording:
                sink.append(sql)

        if self.tracing:
            conn.set_trace_callback(traced)
        if not writer:
            return conn
        self.writer = conn
        return _Recording(conn, self)


_ORIGINAL = connection_module.connect


@contextmanager
def capturing(*, trace: bool = True) -> Iterator[Capture]:
    """Every store opened inside the block is captured; `recording` starts off.
    With `trace=False` only the writer's statements are recorded (no
    `trace`): what a timing of signoff's own work needs."""
    capture = Capture(tracing=trace)
    store_module.connect = capture._connect
    try:
        yield capture
    finally:
        store_module.connect = _ORIGINAL


def statements_run(trace: Sequence[str]) -> int:
    """Statements SQLite ran at the top level. The trace reports a DML
    statement again (same expanded text) for each trigger it fires; those
    repeats are the schema's guards working, not statements signoff sent.
    Nor are the comments SQLite traces for its own work (the full-text
    index checking `-- PRAGMA 'main'.data_version` when a trigger that
    keeps it is about to run), which come between such repeats."""
    count, last = 0, None
    for sql in trace:
        if sql.startswith("-- "):
            continue
        if not (sql == last and sql.lstrip().upper().startswith(DML)):
            count += 1
        last = sql
    return count


def plain_connection(path: Path) -> sqlite3.Connection:
    """sqlite3 set up as signoff sets up its connections (WAL, FULL, foreign
    keys, busy timeout), with no signoff code."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def replay(conn: sqlite3.Connection, transactions: Sequence[Transaction]) -> list[float]:
    """Run the transactions' statements as recorded; each one's busy time
    (BEGIN to the COMMIT call), measured the way `Transaction.busy` is."""
    busy: list[float] = []
    clock = time.perf_counter
    for txn in transactions:
        start = clock()
        for s in txn.statements:
            if s.sql == "COMMIT":
                busy.append(clock() - start)
            if s.many:
                conn.executemany(s.sql, s.params)
            else:
                conn.execute(s.sql, s.params).fetchall()
    return busy
