"""The store's listening connection: NOTIFY from any process wakes waiters.

Commits that readers wait for notify the store's channel (migration V2's
triggers). Each `PostgresStore` keeps one connection of its own, outside the
pool, that LISTENs on that channel and signals the store's `Wakeups` for
every notification, its own process's commits included.

A lost connection (a restarted server, a terminated backend, a broken
network, found by TCP keepalives at worst) is opened again with backoff;
once it listens again every waiter is woken once, since commits made while
nobody listened were never told: they catch up by reading. While it is
down, waiters still poll at their timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import psycopg
from psycopg import sql

from signoff.store.postgres.migration_v2 import CHANNEL
from signoff.store.postgres.sql import translated
from signoff.store.postgres.url import conninfo, redacted
from signoff.store.wakeups import Wakeups

__all__ = ["Listener"]

log = logging.getLogger("signoff.store.notify")
FIRST_DELAY = 0.1  # seconds before the first attempt to listen again
MAX_DELAY = 5.0  # the longest wait between attempts
# Find a peer that vanished without closing the connection within about a minute.
KEEPALIVES: dict[str, Any] = {
    "keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10, "keepalives_count": 3}

AsyncConnection = psycopg.AsyncConnection[tuple[Any, ...]]


class Listener:
    """LISTEN on a store's channel, for as long as the store is open."""

    def __init__(self, url: str, wakeups: Wakeups, *, connect_timeout: int = 10) -> None:
        self._url = url
        self._wakeups = wakeups
        self._connect_timeout = connect_timeout
        self._task: asyncio.Task[None] | None = None
        self._conn: AsyncConnection | None = None
        self.channel: str | None = None
        # The listening backend's pid while it listens (pg_stat_activity).
        self.pid: int | None = None
        self.reconnects = 0  # times it listened again after losing the connection

    async def start(self) -> None:
        """Listen; returns once the first LISTEN is in place (a commit after
        this wakes waiters), or raises why it could not."""
        self._conn = await self._listen()
        self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn, self.pid = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a broken one is closed all the same
                await conn.close()

    async def _listen(self) -> AsyncConnection:
        with translated():
            conn = await psycopg.AsyncConnection.connect(
                conninfo(self._url), autocommit=True, connect_timeout=self._connect_timeout,
                **KEEPALIVES)
            try:
                cur = await conn.execute(f"SELECT {CHANNEL.format(schema='current_schema()')}")
                row = await cur.fetchone()
                assert row is not None
                self.channel = str(row[0])
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            except BaseException:
                await conn.close()
                raise
        self.pid = conn.info.backend_pid
        return conn

    async def _run(self) -> None:
        while True:
            assert self._conn is not None
            try:
                async with contextlib.aclosing(self._conn.notifies()) as notifies:
                    async for _ in notifies:
                        self._wakeups.signal()
            except Exception as exc:  # psycopg's, for a lost connection
                log.warning("lost the connection listening for commits on %s; listening "
                            "again", redacted(self._url), extra={"error": type(exc).__name__})
            await self._drop()
            self._conn = await self._again()
            self.reconnects += 1
            self._wakeups.signal()  # what committed while nobody listened

    async def _again(self) -> AsyncConnection:
        """A listening connection again, retrying with backoff until one is."""
        delay = FIRST_DELAY
        while True:
            await asyncio.sleep(delay)
            try:
                return await self._listen()
            except Exception as exc:  # keep trying: waiters poll meanwhile
                delay = min(delay * 2, MAX_DELAY)
                log.warning("cannot listen for commits on %s yet (%s); retrying in %.1f s",
                            redacted(self._url), type(exc).__name__, delay)
