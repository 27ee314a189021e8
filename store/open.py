"""Opening the store a `--db` names: a SQLite file (or `:memory:`) for a path,
PostgreSQL for a `postgresql://` or `postgres://` URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from signoff.store.postgres.store import PostgresStore
from signoff.store.postgres.url import is_postgres_url, redacted
from signoff.store.sqlite.store import SqliteStore, Synchronous

__all__ = ["describe", "is_postgres_url", "make_store", "open_store"]


def make_store(
    db: str | Path, *, synchronous: Synchronous = "FULL", **options: Any
) -> SqliteStore | PostgresStore:
    """The store `db` names, not yet opened. `synchronous` applies to SQLite
    only (PostgreSQL's durability is the server's); `options` go to the
    adapter's constructor (e.g. `max_size` for PostgreSQL's pool)."""
    if isinstance(db, str) and is_postgres_url(db):
        return PostgresStore(db, **options)
    return SqliteStore(db, synchronous=synchronous, **options)


async def open_store(
    db: str | Path, *, synchronous: Synchronous = "FULL", **options: Any
) -> SqliteStore | PostgresStore:
    """The store `db` names, opened (and migrated)."""
    store = make_store(db, synchronous=synchronous, **options)
    await store.open()
    return store


def describe(db: str | Path) -> str:
    """How to show `db` to a person: a URL without its password."""
    return redacted(db) if isinstance(db, str) and is_postgres_url(db) else str(db)
