"""The SQLite unit of work: every port over one connection, in one transaction."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

from signoff.store.sqlite.checkpoints import SqliteCheckpoints
from signoff.store.sqlite.console_sessions import SqliteConsoleSessions
from signoff.store.sqlite.datasets import SqliteDatasets
from signoff.store.sqlite.events import SqliteEventLog
from signoff.store.sqlite.inbox import SqliteInbox
from signoff.store.sqlite.outbox import SqliteOutbox
from signoff.store.sqlite.proposals import SqliteProposals
from signoff.store.sqlite.rate_counters import SqliteRateCounters
from signoff.store.sqlite.read_models import SqliteReadModels
from signoff.store.sqlite.runtime_log import SqliteRuntimeLog
from signoff.store.sqlite.sql import Sql


class SqliteUnitOfWork:
    """The ports over one connection. Made fresh for every job, so nothing
    cached in it can outlive a rolled-back savepoint. `read_only` when a read
    runs it: a write inside then raises `WriteInRead`."""

    def __init__(self, conn: sqlite3.Connection, *, read_only: bool = False) -> None:
        # The adapter's own door to its tables, for SQLite-specific tools and
        # tests; not part of any port.
        self.sql = db = Sql(conn, read_only=read_only)
        self._depth = 0
        self.events = SqliteEventLog(db)
        self.proposals = SqliteProposals(db)
        self.outbox = SqliteOutbox(db)
        self.inbox = SqliteInbox(db)
        self.checkpoints = SqliteCheckpoints(db)
        self.read_models = SqliteReadModels(db)
        self.runtime = SqliteRuntimeLog(db)
        self.rates = SqliteRateCounters(db)
        self.console_sessions = SqliteConsoleSessions(db)
        # Not a port of every adapter: the batched reads of `signoff export`.
        self.datasets = SqliteDatasets(db)

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        self._depth += 1
        name = f"part{self._depth}"
        self.sql.run(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.sql.run(f"ROLLBACK TO {name}")
            raise
        finally:
            self.sql.run(f"RELEASE {name}")
            self._depth -= 1
