"""The PostgreSQL schema: the numbered migrations (`migrations.py`), applied
in order, each in its own transaction. The table `signoff_schema` records how
far a database has come.

Several processes may start at once on a fresh database (`serve` migrates
when it starts): a session-level advisory lock, taken before anything is
read, makes the others wait and then find the work done.
"""

from __future__ import annotations

import contextlib

from psycopg import sql

from signoff.store.errors import SchemaTooNew
from signoff.store.postgres.connection import Connection
from signoff.store.postgres.migrations import MIGRATIONS
from signoff.store.postgres.sql import translated

__all__ = ["MIGRATIONS", "migrate", "version"]

# The advisory lock's key is a hash of this and the schema, so stores in
# different schemas of one database migrate side by side.
_LOCK_NAME = "signoff.migrate:"


def migrate(conn: Connection, schema: str | None = None) -> int:
    """Bring the database (and `schema`, created if missing) up to the
    newest schema; returns its version. `conn` is in autocommit mode."""
    key = (_LOCK_NAME + (schema or ""),)
    with translated():
        conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", key)
        try:
            return _migrate_locked(conn, schema)
        finally:
            with contextlib.suppress(Exception):  # closing the connection releases it too
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", key)


def _migrate_locked(conn: Connection, schema: str | None) -> int:
    # A store already current needs no DDL: a role granted only what signoff
    # runs with (store/postgres/roles.py), which may create nothing, opens it.
    found = conn.execute("SELECT to_regclass('signoff_schema') IS NOT NULL").fetchone()
    if found and found[0] and _known(version(conn)) == len(MIGRATIONS):
        return len(MIGRATIONS)
    if schema is not None:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute("CREATE TABLE IF NOT EXISTS signoff_schema (version integer NOT NULL)")
    current = _known(version(conn))
    for number in range(current + 1, len(MIGRATIONS) + 1):
        with conn.transaction():
            conn.execute(MIGRATIONS[number - 1].encode())
            conn.execute("DELETE FROM signoff_schema")
            conn.execute("INSERT INTO signoff_schema (version) VALUES (%s)", (number,))
    return len(MIGRATIONS)


def _known(current: int) -> int:
    """`current`, unless it is newer than this signoff knows."""
    if current > len(MIGRATIONS):
        raise SchemaTooNew(
            f"database schema v{current} is newer than this signoff (v{len(MIGRATIONS)})")
    return current


def version(conn: Connection) -> int:
    """The schema version the database is at (0 before any migration)."""
    row = conn.execute("SELECT max(version) FROM signoff_schema").fetchone()
    return int(row[0]) if row and row[0] is not None else 0
