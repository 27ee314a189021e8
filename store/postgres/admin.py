"""What the CLI does to a whole PostgreSQL store, outside any unit of work:
ask whether it holds anything, and wipe it for `demo --force`.

Wiping drops only signoff's own tables (the ones its migrations create) in
the schema the URL names, never anything else that lives there.
"""

from __future__ import annotations

import re

from psycopg import sql

from signoff.store.postgres.connection import connect
from signoff.store.postgres.migrations import MIGRATIONS
from signoff.store.postgres.sql import translated

_CREATED = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", re.IGNORECASE)
_FUNCTION = re.compile(r"CREATE (?:OR REPLACE )?FUNCTION (\w+)", re.IGNORECASE)


def tables() -> list[str]:
    """signoff's tables, as its migrations create them, and its version table."""
    names = ["signoff_schema"]
    for migration in MIGRATIONS:
        names += [n for n in _CREATED.findall(migration) if n not in names]
    return names


def holds_data(url: str) -> bool:
    """Whether the store at `url` holds any event or proposal."""
    with translated(), connect(url) as conn:
        found = conn.execute(
            "SELECT to_regclass('events') IS NOT NULL AND to_regclass('proposals') IS NOT NULL"
        ).fetchone()
        if not (found and found[0]):
            return False
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM proposals)"
        ).fetchone()
        return bool(row and row[0])


def wipe(url: str) -> None:
    """Drop signoff's tables (and their triggers and functions with them) in
    the URL's schema; the next open migrates a fresh store there."""
    with translated(), connect(url) as conn, conn.transaction():
        for name in reversed(tables()):
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(name)))
        for migration in MIGRATIONS:
            for function in _FUNCTION.findall(migration):
                conn.execute(sql.SQL("DROP FUNCTION IF EXISTS {} CASCADE").format(
                    sql.Identifier(function)))
