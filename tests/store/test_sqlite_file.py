"""The SQLite adapter on a file: reopening, migrations, two writers on one file."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from signoff.store.errors import SchemaTooNew, StoreClosed, VersionConflict
from signoff.store.ports import UnitOfWork
from signoff.store.records import EventEnvelope
from signoff.store.sqlite import schema
from signoff.store.sqlite.store import SqliteStore

from .factories import TENANT, chain_breaks, event, proposal

pytestmark = pytest.mark.anyio


def user_version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def schema_objects(path: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT type, name FROM sqlite_master ORDER BY type, name").fetchall()
    return [(str(t), str(n)) for t, n in rows]


async def test_reopening_keeps_the_data_and_the_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "signoff.db"
    async with SqliteStore(path) as store:
        written = await store.write(lambda uow: uow.events.append([event("case-1", 1)]))
        await store.write(lambda uow: uow.proposals.add(proposal()))
    assert user_version(path) == len(schema.MIGRATIONS)
    objects = schema_objects(path)

    async with SqliteStore(path) as store:
        assert await store.read(lambda uow: uow.events.read_after(0, 10)) == written
        assert await store.read(lambda uow: uow.proposals.get("prop-1", TENANT)) == proposal()
        more = await store.write(lambda uow: uow.events.append([event("case-1", 2)]))
        assert more[0].prev_hash == written[0].hash
    assert user_version(path) == len(schema.MIGRATIONS)
    assert schema_objects(path) == objects


async def test_only_the_missing_migrations_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "signoff.db"
    async with SqliteStore(path) as store:
        await store.write(lambda uow: uow.checkpoints.set("cases", 3))

    # A release with one more migration: opening applies just that one, once.
    newer = (*schema.MIGRATIONS, "CREATE TABLE marker (x INTEGER);")
    monkeypatch.setattr(schema, "MIGRATIONS", newer)
    for _ in range(2):  # a re-run would fail: the table exists
        async with SqliteStore(path) as store:
            assert await store.read(lambda uow: uow.checkpoints.get("cases")) == 3
        assert user_version(path) == len(newer)
    assert ("table", "marker") in schema_objects(path)


def _stamp_version(path: Path, version: int) -> None:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {version}")
        conn.commit()


async def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "signoff.db"
    too_new = len(schema.MIGRATIONS) + 1
    _stamp_version(path, too_new)

    with pytest.raises(SchemaTooNew, match=f"v{too_new}"):
        async with SqliteStore(path):
            pass  # pragma: no cover - never reached
    assert user_version(path) == too_new
    assert schema_objects(path) == []


async def test_a_store_that_failed_to_open_refuses_work(tmp_path: Path) -> None:
    path = tmp_path / "signoff.db"
    _stamp_version(path, len(schema.MIGRATIONS) + 1)
    store = SqliteStore(path)
    with pytest.raises(SchemaTooNew):
        await store.open()
    try:
        with pytest.raises(StoreClosed):
            # Today this queues a job no writer will ever run: the await hangs.
            store.write(lambda uow: uow.checkpoints.get("x"))
    finally:
        await store.close()


def _append(e: EventEnvelope) -> Callable[[UnitOfWork], list[EventEnvelope]]:
    return lambda uow: uow.events.append([e])


async def test_two_writers_on_one_file_one_wins_each_version(tmp_path: Path) -> None:
    path = tmp_path / "signoff.db"
    rounds = 25
    async with SqliteStore(path) as left, SqliteStore(path) as right:
        for n in range(rounds):
            results = await asyncio.gather(
                left.write(_append(event(f"case-{n}", 1, event_id=f"left-{n}"))),
                right.write(_append(event(f"case-{n}", 1, event_id=f"right-{n}"))),
                return_exceptions=True,
            )
            conflicts = [r for r in results if isinstance(r, VersionConflict)]
            winners = [r for r in results if isinstance(r, list)]
            assert (len(winners), len(conflicts)) == (1, 1), results
            assert conflicts[0].aggregate_id == f"case-{n}"

        # Each sees the other's commits, and the chain has one thread through both.
        from_left = await left.read(lambda uow: uow.events.read_after(0, 1000))
        from_right = await right.read(lambda uow: uow.events.read_after(0, 1000))
    assert from_left == from_right
    assert len(from_left) == rounds
    assert chain_breaks(from_left) == []


async def test_opening_waits_for_a_writer_on_a_fresh_file(tmp_path: Path) -> None:
    """Two processes opening a new database at once: one is migrating (it holds
    the write lock, the file not yet in WAL mode) while the other connects.
    The second must wait like any writer, not fail with "database is locked"."""
    path = tmp_path / "signoff.db"
    with closing(sqlite3.connect(path, isolation_level=None, check_same_thread=False)) as other:
        other.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
        release.start()
        try:
            async with SqliteStore(path) as store:
                assert await store.read(lambda uow: uow.events.head()) == 0
        finally:
            release.join()
    assert user_version(path) == len(schema.MIGRATIONS)
