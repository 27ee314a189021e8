"""The PostgreSQL adapter: each job one transaction on a pooled connection.

`write(fn)` and `read(fn)` run `fn` on a worker thread with a connection of
its own from a psycopg `ConnectionPool`, in ONE transaction:

- a write job runs at READ COMMITTED: each statement sees what committed
  before it, which is what the explicit locks build on (the event log's
  advisory lock, FOR UPDATE on what a claim or a rebuild takes, upserts for
  counters); it commits if `fn` returns and rolls back if it raises;
- a read job runs at REPEATABLE READ, READ ONLY: every statement of `fn`
  sees one snapshot, taken at its first statement, and any write is refused
  by PostgreSQL and raised as `WriteInRead`.

Jobs run side by side (as many as the pool has connections); there is no
group commit, each job commits alone. The schema is migrated when the store
opens, under an advisory lock (`schema.migrate`). A connection of its own
listens for the commits of every process (`notify.py`): `changes()`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import psycopg

from signoff.store.errors import StorageFailure, StoreClosed
from signoff.store.faults import crash_point
from signoff.store.ports import UnitOfWork
from signoff.store.postgres.connection import Connection, Pool, connect, make_pool
from signoff.store.postgres.notify import Listener
from signoff.store.postgres.schema import migrate
from signoff.store.postgres.sql import PgSql, translated
from signoff.store.postgres.unit_of_work import PostgresUnitOfWork
from signoff.store.postgres.url import redacted, schema_of
from signoff.store.wakeups import Waiter, Wakeups

__all__ = ["READ_BEGIN", "WRITE_BEGIN", "PostgresStore", "open_postgres"]

T = TypeVar("T")
WRITE_BEGIN = "BEGIN ISOLATION LEVEL READ COMMITTED"
RETRIES = 3
RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
READ_BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


class PostgresStore:
    """`Store` on a PostgreSQL database (and schema) named by a URL."""

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 8, timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.schema = schema_of(url)
        self._pool: Pool = make_pool(url, min_size=min_size, max_size=max_size, timeout=timeout)
        self._limiter = anyio.CapacityLimiter(max_size)
        self._jobs: set[asyncio.Task[Any]] = set()
        self.wakeups = Wakeups()  # what changes() waits on; counts wakeups, for tests
        self.listener = Listener(url, self.wakeups)
        self._opened = False
        self._closed = False

    def __repr__(self) -> str:
        return f"PostgresStore({redacted(self.url)!r})"

    async def open(self) -> PostgresStore:
        try:
            await anyio.to_thread.run_sync(self._open_sync)
            await self.listener.start()
        except BaseException:
            self._closed = True
            await anyio.to_thread.run_sync(self._pool.close)
            raise
        self._opened = True
        return self

    def _open_sync(self) -> None:
        with translated():
            conn = connect(self.url)
        try:
            migrate(conn, self.schema)
        finally:
            conn.close()
        with translated():
            self._pool.open(wait=True)

    async def __aenter__(self) -> PostgresStore:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def changes(self) -> Waiter:
        return self.wakeups.changes()

    def write(self, fn: Callable[[UnitOfWork], T]) -> asyncio.Task[T]:
        """Starts at once: a write submitted before `close` completes."""
        return self._start(fn, read_only=False)

    async def read(self, fn: Callable[[UnitOfWork], T]) -> T:
        return await self._start(fn, read_only=True)

    def _start(self, fn: Callable[[UnitOfWork], T], *, read_only: bool) -> asyncio.Task[T]:
        if self._closed or not self._opened:
            raise StoreClosed()
        job: Coroutine[Any, Any, T] = anyio.to_thread.run_sync(
            self._run_sync, fn, read_only, limiter=self._limiter)
        task = asyncio.ensure_future(job)
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        return task

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._jobs:  # let what was accepted finish; its callers get its outcome
            await asyncio.wait(list(self._jobs))
        await self.listener.close()
        await anyio.to_thread.run_sync(self._pool.close)
        self.wakeups.signal()  # waiters find the store closed

    # -- on a worker thread ------------------------------------------------

    def _run_sync(self, fn: Callable[[UnitOfWork], T], read_only: bool) -> T:
        # A job PostgreSQL chose as a deadlock's victim (or a serialization
        # failure) was rolled back whole and ran no side effect outside the
        # database: it runs again, a few times, before the error is the caller's.
        for attempt in range(1, RETRIES + 1):
            with translated():
                conn = self._pool.getconn()
            try:
                return _transaction(conn, fn, read_only=read_only)
            except StorageFailure as exc:
                if attempt == RETRIES or not isinstance(exc.__cause__, RETRYABLE):
                    raise
            finally:
                self._pool.putconn(conn)
        raise AssertionError("unreachable")


def _transaction(conn: Connection, fn: Callable[[UnitOfWork], T], *, read_only: bool) -> T:
    """Run `fn` in one transaction on `conn`: commit (a write) or end (a
    read) if it returns, roll back if it raises."""
    db = PgSql(conn, read_only=read_only)
    db.run(READ_BEGIN if read_only else WRITE_BEGIN)
    try:
        result = fn(PostgresUnitOfWork(db))
        if db.failed and not read_only:
            # fn caught a failed statement's error and went on: PostgreSQL
            # would answer COMMIT with a rollback, and fn would think it wrote.
            raise StorageFailure("a statement failed and the job went on; nothing was written")
    except BaseException:
        with contextlib.suppress(Exception):
            conn.execute("ROLLBACK")
        raise
    if read_only:
        db.run("ROLLBACK")  # nothing to keep; ends the snapshot
        return result
    crash_point("writer.before_commit")
    db.run("COMMIT")
    crash_point("writer.after_commit")
    return result


async def open_postgres(url: str, **options: Any) -> PostgresStore:
    return await PostgresStore(url, **options).open()
