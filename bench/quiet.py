"""Waiting for a signoff process's background writes to stop.

After a burst of calls, `signoff serve` keeps writing for a while: the
runtime log flushes its buffer, the relay publishes and marks the outbox, the
projector catches its read models up. Those writes must not land on the bare
server's round. `Quiet` watches the database from a side connection
(`PRAGMA data_version` moves whenever another connection commits) and waits
until nothing has committed for a while; it also counts commits that happen
while a bare round runs, so the report can show they did not.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import anyio


class Quiet:
    def __init__(self, db: Path, *, quiet_for: float = 0.5, limit: float = 20.0) -> None:
        self.db, self.quiet_for, self.limit = db, quiet_for, limit
        self._conn: sqlite3.Connection | None = None
        self.waited: list[float] = []

    def _version(self) -> int:
        if self._conn is None:
            if not self.db.exists():
                return 0
            self._conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True,
                                         isolation_level=None, check_same_thread=False)
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    async def settle(self) -> float:
        """Wait until no commit for `quiet_for` seconds (at most `limit`)."""
        start = time.monotonic()
        last, since = self._version(), time.monotonic()
        while time.monotonic() - since < self.quiet_for:
            if time.monotonic() - start > self.limit:
                break
            await anyio.sleep(0.05)
            now = self._version()
            if now != last:
                last, since = now, time.monotonic()
        self.waited.append(time.monotonic() - start)
        return self.waited[-1]

    def mark(self) -> int:
        return self._version()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
