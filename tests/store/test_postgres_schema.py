"""PostgreSQL schema: created where the URL says, migrated once however many
processes start at once, and never opened by a signoff older than it."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import psycopg
import pytest

from signoff.store.errors import SchemaTooNew, StorageFailure
from signoff.store.postgres import schema
from signoff.store.postgres.connection import connect
from signoff.store.postgres.migrations import MIGRATIONS
from signoff.store.postgres.store import PostgresStore
from signoff.store.postgres.url import schema_of

from .postgres import SERVER, scratch_schema

pytestmark = pytest.mark.anyio


@pytest.fixture
def url() -> Iterator[str]:
    with scratch_schema() as made:
        yield made


def tables_in(name: str) -> list[str]:
    with psycopg.connect(SERVER) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
            "ORDER BY table_name", (name,)).fetchall()
    return [str(r[0]) for r in rows]


async def test_opening_creates_the_urls_schema_and_its_tables_there(url: str) -> None:
    name = schema_of(url)
    assert name is not None
    assert tables_in(name) == []
    await (await PostgresStore(url).open()).close()
    assert {"events", "proposals", "outbox", "signoff_schema"} <= set(tables_in(name))
    assert "events" not in tables_in("public")


def test_two_processes_migrating_at_once_apply_each_migration_once(url: str) -> None:
    """Both wait at a barrier with a connection open, then migrate together:
    the advisory lock makes the second find the first's work."""
    barrier = threading.Barrier(2)
    results: list[int | BaseException] = []

    def start() -> None:
        conn = connect(url)
        try:
            barrier.wait(10)
            results.append(schema.migrate(conn, schema_of(url)))
        except BaseException as exc:  # reported below
            results.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [len(MIGRATIONS), len(MIGRATIONS)]
    with connect(url) as conn:
        assert conn.execute("SELECT version FROM signoff_schema").fetchall() == [
            (len(MIGRATIONS),)]


async def test_migrating_again_changes_nothing(url: str) -> None:
    await (await PostgresStore(url).open()).close()
    with connect(url) as conn:
        conn.execute("INSERT INTO checkpoints (name, position) VALUES ('kept', 7)")
        assert schema.migrate(conn, schema_of(url)) == len(MIGRATIONS)
        assert conn.execute("SELECT position FROM checkpoints").fetchall() == [(7,)]


async def test_a_schema_newer_than_this_signoff_is_refused(url: str) -> None:
    await (await PostgresStore(url).open()).close()
    with connect(url) as conn:
        conn.execute("UPDATE signoff_schema SET version = version + 1")
    store = PostgresStore(url)
    with pytest.raises(SchemaTooNew, match=f"newer than this signoff \\(v{len(MIGRATIONS)}\\)"):
        await store.open()
    with connect(url) as conn:  # and it changed nothing
        assert schema.version(conn) == len(MIGRATIONS) + 1


async def test_a_server_that_does_not_answer_is_a_storage_failure() -> None:
    store = PostgresStore("postgresql://postgres@127.0.0.1:1/test", timeout=2)
    with pytest.raises(StorageFailure):
        await store.open()
