"""LISTEN/NOTIFY across PostgreSQL stores: a commit in one store (another
process's pool, as far as the database can tell) wakes the waiters of every
store on the same schema, and of no other; a job that rolled back wakes
nobody; a listening connection that is killed is opened again, and its
waiters are woken once to catch up on what they were not told meanwhile.

Waiters poll every 30 s and must wake within 5: they woke because they were told."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import psycopg
import pytest

from signoff.store.ports import UnitOfWork
from signoff.store.postgres.store import PostgresStore

from .factories import event, outbox_message
from .postgres import SERVER, scratch_schema
from .test_changes import TOLD, Boom, quiet, woken

pytestmark = pytest.mark.anyio


@pytest.fixture
async def url() -> AsyncIterator[str]:
    with scratch_schema() as made:
        yield made


@pytest.fixture
async def writer(url: str) -> AsyncIterator[PostgresStore]:
    async with PostgresStore(url, max_size=2) as store:
        yield store


@pytest.fixture
async def watcher(url: str, writer: PostgresStore) -> AsyncIterator[PostgresStore]:
    async with PostgresStore(url, max_size=2) as store:
        yield store


def listening(pid: int) -> str | None:
    """What the backend `pid` is doing, if it is connected."""
    with psycopg.connect(SERVER, autocommit=True) as conn:
        row = conn.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return None if row is None else str(row[0])


async def test_a_commit_in_one_store_wakes_the_waiters_of_another(
    writer: PostgresStore, watcher: PostgresStore,
) -> None:
    assert watcher.listener.pid is not None
    assert (listening(watcher.listener.pid) or "").startswith("LISTEN")
    changes = watcher.changes()
    await writer.write(lambda uow: uow.events.append([event("case-1", 1)]))
    assert await woken(changes)
    await writer.write(lambda uow: uow.outbox.add([outbox_message("m-1")]))
    assert await woken(changes)
    assert await quiet(changes)


async def test_a_job_rolled_back_in_one_store_wakes_nobody(
    writer: PostgresStore, watcher: PostgresStore,
) -> None:
    mine, theirs = writer.changes(), watcher.changes()

    def broken(uow: UnitOfWork) -> None:
        uow.events.append([event("case-1", 1)])
        raise Boom

    with pytest.raises(Boom):
        await writer.write(broken)
    assert await quiet(theirs)
    assert await quiet(mine)


async def test_stores_in_another_schema_are_not_woken(writer: PostgresStore) -> None:
    with scratch_schema() as elsewhere:
        async with PostgresStore(elsewhere, max_size=1) as other:
            assert other.listener.channel != writer.listener.channel
            changes = other.changes()
            await writer.write(lambda uow: uow.events.append([event("case-1", 1)]))
            assert await quiet(changes)


async def test_a_killed_listening_connection_is_opened_again_and_its_waiters_catch_up(
    writer: PostgresStore, watcher: PostgresStore,
) -> None:
    killed = watcher.listener.pid
    assert killed is not None
    changes = watcher.changes()
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (killed,))
    # Nobody listened for a moment: every waiter is woken once, to read.
    assert await woken(changes)
    assert watcher.listener.reconnects == 1
    assert watcher.listener.pid not in (None, killed)
    assert listening(killed) is None
    # And it listens again.
    await writer.write(lambda uow: uow.events.append([event("case-1", 1)]))
    assert await woken(changes)


async def test_closing_a_store_releases_its_waiters_and_its_listening_connection(
    watcher: PostgresStore,
) -> None:
    pid = watcher.listener.pid
    assert pid is not None
    changes = watcher.changes()
    async with anyio.create_task_group() as tg:
        tg.start_soon(woken, changes)
        await anyio.sleep(0.05)
        await watcher.close()
    for _ in range(int(TOLD / 0.02)):  # the backend ends just after the close
        if listening(pid) is None:
            break
        await anyio.sleep(0.02)
    assert listening(pid) is None
