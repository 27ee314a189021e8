"""Opening PostgreSQL connections the way every signoff connection must be.

Connections run in autocommit mode and the adapter writes BEGIN and COMMIT
itself, so each job's transaction, its isolation level and its savepoints are
spelled out in one place (store.py) rather than left to the driver. Every
session works in UTC: a naive datetime stands for UTC, as on SQLite.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from signoff.store.postgres.url import conninfo

Connection = psycopg.Connection[tuple[Any, ...]]
Pool = ConnectionPool[Connection]


def configure(conn: Connection) -> None:
    conn.execute("SET TIME ZONE 'UTC'")


def connect(url: str, *, connect_timeout: int = 10) -> Connection:
    """One connection outside the pool (migrations, tools)."""
    conn = psycopg.connect(conninfo(url), autocommit=True, connect_timeout=connect_timeout)
    configure(conn)
    return conn


def make_pool(url: str, *, min_size: int, max_size: int, timeout: float) -> Pool:
    """A pool, not yet open: `open(wait=True)` it on a worker thread."""
    return ConnectionPool(
        conninfo(url),
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        open=False,
        # A connection the server dropped (a restart, a failover) is found
        # and replaced when taken, not handed to a job to fail on.
        check=ConnectionPool.check_connection,
        configure=configure,
        kwargs={"autocommit": True},
        name="signoff",
    )
