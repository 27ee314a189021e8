"""The SQLite unit of work: every port over one connection, in one transaction."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator

from signoff.store.sqlite.checkpoints import SqliteCheckpoints
from signoff.store.sqlite.commands import SqliteCommands
from signoff.store.sqlite.events import SqliteEventLog
from signoff.store.sqlite.inbox import SqliteInbox
from signoff.store.sqlite.outbox import SqliteOutbox
from signoff.store.sqlite.proposals import SqliteProposals
from signoff.store.sqlite.read_models import SqliteReadModels
from signoff.store.sqlite.runtime_log import SqliteRuntimeLog


class SqliteUnitOfWork:
    """The ports over one connection. Made fresh for every job, so nothing
    cached in it can outlive a rolled-back savepoint."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._depth = 0
        self.events = SqliteEventLog(conn)
        self.proposals = SqliteProposals(conn)
        self.commands = SqliteCommands(conn)
        self.outbox = SqliteOutbox(conn)
        self.inbox = SqliteInbox(conn)
        self.checkpoints = SqliteCheckpoints(conn)
        self.read_models = SqliteReadModels(conn)
        self.runtime = SqliteRuntimeLog(conn)

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        self._depth += 1
        name = f"part{self._depth}"
        self._conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self._conn.execute(f"ROLLBACK TO {name}")
            raise
        finally:
            self._conn.execute(f"RELEASE {name}")
            self._depth -= 1
