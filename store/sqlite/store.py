"""The SQLite adapter: one writer thread that group-commits, readers beside it.

Every write is a job (a function over a unit of work) queued to the single
writer thread. The writer takes whatever jobs are waiting, opens ONE
`BEGIN IMMEDIATE` transaction, runs each job in its own SAVEPOINT (a job that
raises undoes only its own work) and commits once: one fsync for the batch.
A lone job runs without a savepoint. Reads run on their own connections in
WAL mode and never wait for the writer. After a commit that wrote what
readers wait for, the writer wakes this process's `changes()` waiters
(`sqlite/wakeups.py`); other processes on the file find it by polling.

The writer is a plain thread on stdlib sqlite3 rather than aiosqlite, whose
one-statement-per-hop API cannot run a whole transaction (claim, load,
decide, append) in one round trip nor wrap jobs in savepoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from signoff.store.errors import StoreClosed
from signoff.store.faults import crash_point
from signoff.store.ports import UnitOfWork
from signoff.store.sqlite.connection import MEMORY, Synchronous, connect
from signoff.store.sqlite.schema import migrate
from signoff.store.sqlite.sql import translate, translated
from signoff.store.sqlite.unit_of_work import SqliteUnitOfWork
from signoff.store.sqlite.wakeups import Noticed, install
from signoff.store.wakeups import Waiter, Wakeups

__all__ = ["SqliteStore", "Synchronous", "open_sqlite"]

T = TypeVar("T")


@dataclass
class _Job:
    fn: Callable[[UnitOfWork], Any]
    loop: asyncio.AbstractEventLoop
    read_only: bool = False
    future: asyncio.Future[Any] = field(init=False)

    def __post_init__(self) -> None:
        self.future = self.loop.create_future()

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        def _set() -> None:
            if self.future.done():
                return  # the caller gave up waiting; the work stands regardless
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result)

        with contextlib.suppress(RuntimeError):  # loop already closed
            self.loop.call_soon_threadsafe(_set)


class SqliteStore:
    """`Store` on a SQLite file (or `:memory:`, where reads share the writer)."""

    def __init__(
        self, path: str | Path, *, synchronous: Synchronous = "FULL", max_batch: int = 64,
        readers: int = 4,
    ) -> None:
        self.path = str(path)
        self._synchronous = synchronous
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._reader_limit = anyio.CapacityLimiter(readers)
        self._all_readers: list[sqlite3.Connection] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        self.wakeups = Wakeups()  # what changes() waits on; counts wakeups, for tests
        self._noticed = Noticed()
        self.batches = 0  # committed transactions, for benchmarks and tests

    @property
    def in_memory(self) -> bool:
        return self.path == MEMORY

    async def open(self) -> SqliteStore:
        ready: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._writer_main, args=(ready,), name="signoff-sqlite-writer", daemon=True
        )
        self._thread.start()
        error = await anyio.to_thread.run_sync(ready.get)
        if error is not None:
            self._closed = True  # no writer: refuse work rather than queue it forever
            raise error
        return self

    async def __aenter__(self) -> SqliteStore:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def write(self, fn: Callable[[UnitOfWork], T]) -> asyncio.Future[T]:
        if self._closed or self._thread is None:
            raise StoreClosed()
        return self._submit(fn)

    def _submit(
        self, fn: Callable[[UnitOfWork], T], *, read_only: bool = False
    ) -> asyncio.Future[T]:
        job = _Job(fn, asyncio.get_running_loop(), read_only)
        self._jobs.put(job)
        return job.future

    def changes(self) -> Waiter:
        return self.wakeups.changes()

    async def read(self, fn: Callable[[UnitOfWork], T]) -> T:
        if self._closed or self._thread is None:
            raise StoreClosed()
        if self.in_memory:
            # One in-memory database lives on one connection: the writer's.
            return await self._submit(fn, read_only=True)
        return await anyio.to_thread.run_sync(self._read_sync, fn, limiter=self._reader_limit)

    def _read_sync(self, fn: Callable[[UnitOfWork], T]) -> T:
        with translated(read_only=True):
            conn = self._reader()
            try:
                conn.execute("BEGIN")  # one snapshot for every statement of fn
                try:
                    return fn(SqliteUnitOfWork(conn, read_only=True))
                finally:
                    conn.execute("ROLLBACK")
            finally:
                self._readers.put(conn)

    def _reader(self) -> sqlite3.Connection:
        try:
            return self._readers.get_nowait()
        except queue.Empty:
            conn = connect(self.path, self._synchronous)
            conn.execute("PRAGMA query_only = ON")
            self._all_readers.append(conn)
            return conn

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._jobs.put(None)
            await anyio.to_thread.run_sync(self._thread.join)
        for conn in self._all_readers:
            conn.close()
        self.wakeups.signal()  # waiters find the store closed

    # -- the writer thread -------------------------------------------------

    def _writer_main(self, ready: queue.SimpleQueue[BaseException | None]) -> None:
        conn: sqlite3.Connection | None = None
        try:
            conn = connect(self.path, self._synchronous)
            migrate(conn)
            install(conn, self._noticed)
        except BaseException as exc:  # reported to open(), which re-raises
            if conn is not None:
                conn.close()
            ready.put(translate(exc) if isinstance(exc, sqlite3.Error) else exc)
            return
        ready.put(None)
        try:
            while True:
                first = self._jobs.get()
                if first is None:
                    return
                batch, stop = self._drain(first)
                self._run_batch(conn, batch)
                if stop:
                    return
        finally:
            while True:  # fail whatever arrived after the stop
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job.settle(error=StoreClosed())
            conn.close()

    def _drain(self, first: _Job) -> tuple[list[_Job], bool]:
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return batch, False
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        self._noticed.take()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            for job in batch:
                job.settle(error=translate(exc))
            return
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        if len(batch) == 1:
            job = batch[0]
            try:
                outcomes.append((job, _run_job(conn, job), None))
            except Exception as exc:
                conn.execute("ROLLBACK")
                job.settle(error=exc)
                return
        else:
            for job in batch:
                conn.execute("SAVEPOINT job")
                noticed = self._noticed.value
                try:
                    result = _run_job(conn, job)
                except Exception as exc:
                    conn.execute("ROLLBACK TO job")
                    self._noticed.value = noticed  # what it wrote is gone
                    outcomes.append((job, None, exc))
                else:
                    outcomes.append((job, result, None))
                conn.execute("RELEASE job")
        crash_point("writer.before_commit")
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            for job, _, _ in outcomes:
                job.settle(error=translate(exc))
            return
        self.batches += 1
        if self._noticed.take():
            self.wakeups.signal()
        crash_point("writer.after_commit")
        for job, result, error in outcomes:
            job.settle(result, error)


def _run_job(conn: sqlite3.Connection, job: _Job) -> Any:
    """Run a job; a read (on :memory:, reads share the writer) may not write."""
    with translated(read_only=job.read_only):
        if not job.read_only:
            return job.fn(SqliteUnitOfWork(conn))
        conn.execute("PRAGMA query_only = ON")
        try:
            return job.fn(SqliteUnitOfWork(conn, read_only=True))
        finally:
            conn.execute("PRAGMA query_only = OFF")


async def open_sqlite(path: str | Path, **options: Any) -> SqliteStore:
    return await SqliteStore(path, **options).open()
