"""`open_store` opens the adapter a `--db` names: SQLite for a path,
PostgreSQL for a URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from signoff.store.open import make_store, open_store
from signoff.store.postgres.store import PostgresStore
from signoff.store.sqlite.store import SqliteStore

from .postgres import scratch_schema

pytestmark = pytest.mark.anyio


async def test_a_path_opens_sqlite(tmp_path: Path) -> None:
    for db in (tmp_path / "a.db", str(tmp_path / "b.db"), ":memory:"):
        store = await open_store(db, synchronous="NORMAL")
        try:
            assert isinstance(store, SqliteStore)
            assert await store.write(lambda uow: uow.events.head()) == 0
        finally:
            await store.close()


async def test_a_url_opens_postgres() -> None:
    with scratch_schema() as url:
        store = await open_store(url, max_size=2)
        try:
            assert isinstance(store, PostgresStore)
            assert await store.write(lambda uow: uow.events.head()) == 0
        finally:
            await store.close()


def test_a_postgres_store_shows_its_url_without_the_password() -> None:
    store = make_store("postgres://alice:s3cret@db.example/signoff")
    assert isinstance(store, PostgresStore)
    assert "s3cret" not in repr(store)
    assert "alice:***@db.example" in repr(store)
