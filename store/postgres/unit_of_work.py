"""The PostgreSQL unit of work: every port over one connection, in one
transaction."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from signoff.store.postgres.checkpoints import PostgresCheckpoints
from signoff.store.postgres.console_sessions import PostgresConsoleSessions
from signoff.store.postgres.datasets import PostgresDatasets
from signoff.store.postgres.events import PostgresEventLog
from signoff.store.postgres.inbox import PostgresInbox
from signoff.store.postgres.outbox import PostgresOutbox
from signoff.store.postgres.proposals import PostgresProposals
from signoff.store.postgres.rate_counters import PostgresRateCounters
from signoff.store.postgres.read_models import PostgresReadModels
from signoff.store.postgres.runtime_log import PostgresRuntimeLog
from signoff.store.postgres.sql import PgSql


class PostgresUnitOfWork:
    """The ports over one transaction's statements. Made fresh for every
    job, so nothing cached in it outlives the transaction."""

    def __init__(self, db: PgSql) -> None:
        # The adapter's own door to its tables, for PostgreSQL-specific tools
        # and tests; not part of any port.
        self.sql = db
        self._depth = 0
        self.events = PostgresEventLog(db)
        self.proposals = PostgresProposals(db)
        self.outbox = PostgresOutbox(db)
        self.inbox = PostgresInbox(db)
        self.checkpoints = PostgresCheckpoints(db)
        self.read_models = PostgresReadModels(db)
        self.runtime = PostgresRuntimeLog(db)
        self.rates = PostgresRateCounters(db)
        self.console_sessions = PostgresConsoleSessions(db)
        self.datasets = PostgresDatasets(db)  # exports' batched reads

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        self._depth += 1
        try:
            with self.sql.savepoint(f"part{self._depth}"):
                yield
        finally:
            self._depth -= 1
