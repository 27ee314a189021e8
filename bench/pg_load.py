"""The load for bench_postgres: MCP clients kept on several serve processes,
of which a round runs some, and raw inserts from as many psycopg connections.

Every pool connects its clients once (sessions initialised) and keeps them;
a round releases the first `k` clients of each chosen pool together, with
one deadline for all, and only calls finishing before it count (mcp_load's
rule: the call in flight at the deadline completes and is checked, not
counted). The raw arm is the physical floor: one-row INSERT transactions,
autocommit, at the server's own synchronous_commit, from one thread per
connection.
"""

from __future__ import annotations

import getpass
import os
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import anyio
import mcp_load
import psycopg
from mcp_load import Round
from psycopg import sql


def split(clients: int, processes: int) -> list[int]:
    """`clients` spread over `processes` as evenly as can be, the larger shares
    first: 32 over 3 is 11, 11, 10."""
    base, extra = divmod(clients, processes)
    return [base + (1 if i < extra else 0) for i in range(processes)]


class Pool(mcp_load.Pool):
    """mcp_load's pool, whose rounds may run only some of its clients."""

    def release(self, tag: str, end: float, count: int) -> Round:
        """Start the first `count` clients on a round ending at `end` (monotonic)."""
        if not 0 < count <= self.clients:
            raise ValueError(f"{count} of {self.clients} clients")
        current = Round(tag, end, count)
        for inbox in self._inboxes[:count]:
            inbox.send_nowait(current)  # each inbox holds one round; its client is idle
        return current


async def run_split(pools: Sequence[Pool], counts: Sequence[int], tag: str,
                    seconds: float) -> list[Round]:
    """One round of `counts[i]` clients on `pools[i]`, all with the same deadline;
    each pool's round has its own tag, so no two clients share idempotency keys."""
    end = time.monotonic() + seconds
    rounds = [pool.release(f"{tag}-p{i}", end, n)
              for i, (pool, n) in enumerate(zip(pools, counts, strict=True)) if n]
    for current in rounds:
        await current.done.wait()
    return rounds


def server_url() -> str:
    """The PostgreSQL the tests use (tests/store/postgres.py): 127.0.0.1:5432,
    database test, user postgres when root; SIGNOFF_TEST_PG names another."""
    user = os.environ.get("PGUSER") or ("postgres" if getpass.getuser() == "root"
                                        else getpass.getuser())
    return os.environ.get("SIGNOFF_TEST_PG") or f"postgresql://{user}@127.0.0.1:5432/test"


def unreachable(server: str) -> str | None:
    """Why PostgreSQL at `server` cannot be used, or None when it answers."""
    try:
        with psycopg.connect(server, connect_timeout=3, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {server} ({type(exc).__name__}: {exc})".strip()
    return None


def new_schema() -> str:
    return f"signoff_bench_{uuid.uuid4().hex[:12]}"


def schema_url(server: str, schema: str) -> str:
    """`server` with `schema` first on the search path."""
    joiner = "&" if "?" in server else "?"
    return f"{server}{joiner}options={quote(f'-csearch_path={schema}')}"


def drop_schema(server: str, schema: str) -> None:
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def stored_proposals(url: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return {row[0] for row in conn.execute("SELECT proposal_id FROM proposals")}


class Quiet:
    """Waits for serve's background writes on PostgreSQL to stop, like quiet.py
    does on SQLite: a fingerprint of what the runtime log, the relay, the
    projector and the write path move, polled until it holds still."""

    FINGERPRINT = ("SELECT (SELECT max(seq) FROM runtime_log), (SELECT max(position) FROM events),"
                   " (SELECT count(*) FROM outbox WHERE status = 'pending'),"
                   " (SELECT sum(position) FROM checkpoints)")

    def __init__(self, url: str, *, quiet_for: float = 0.5, limit: float = 20.0) -> None:
        self.url, self.quiet_for, self.limit = url, quiet_for, limit
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None

    def _mark(self) -> tuple[object, ...]:
        if self._conn is None:
            self._conn = psycopg.connect(self.url, autocommit=True)
        row = self._conn.execute(self.FINGERPRINT).fetchone()
        return tuple(row or ())

    async def settle(self) -> float:
        start = time.monotonic()
        last, since = self._mark(), start
        while time.monotonic() - since < self.quiet_for and time.monotonic() - start < self.limit:
            await anyio.sleep(0.05)
            if (now := self._mark()) != last:
                last, since = now, time.monotonic()
        return time.monotonic() - start

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


class RawInserts:
    """`connections` autocommit psycopg connections, kept open, each inserting
    one row per transaction in its own thread for a round's seconds."""

    def __init__(self, url: str, connections: int) -> None:
        self.url, self.connections = url, connections
        self._conns: list[psycopg.Connection[tuple[object, ...]]] = []
        self._threads = ThreadPoolExecutor(max_workers=connections, thread_name_prefix="raw")
        self.synchronous_commit = ""
        self.rounds = 0

    def open(self) -> RawInserts:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (id bigint GENERATED ALWAYS AS "
                         "IDENTITY PRIMARY KEY, client int NOT NULL, n int NOT NULL, "
                         "body text NOT NULL)")
            row = conn.execute("SHOW synchronous_commit").fetchone()
            self.synchronous_commit = str(row[0]) if row else "?"
        self._conns = [psycopg.connect(self.url, autocommit=True)
                       for _ in range(self.connections)]
        return self

    def run(self, seconds: float) -> int:
        """Rows inserted by transactions that committed inside the window."""
        self.rounds += 1
        end = time.monotonic() + seconds
        jobs = [self._threads.submit(self._insert, conn, number, end)
                for number, conn in enumerate(self._conns)]
        return sum(job.result() for job in jobs)

    def _insert(self, conn: psycopg.Connection[tuple[object, ...]], client: int,
                end: float) -> int:
        done = 0
        while time.monotonic() < end:
            conn.execute("INSERT INTO bench_raw (client, n, body) VALUES (%s, %s, %s)",
                         (client, done, f"Benchmark notice {self.rounds}-{client}-{done}."))
            if time.monotonic() > end:
                break  # committed after the window: not counted
            done += 1
        return done

    def close(self) -> None:
        self._threads.shutdown()
        for conn in self._conns:
            conn.close()
