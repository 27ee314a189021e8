"""PostgreSQL store: what a job survives without the caller seeing it. A job
chosen as a deadlock's victim runs again (it was rolled back whole); a pooled
connection the server dropped is replaced before a job gets it."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable

import anyio
import psycopg
import pytest

from signoff.store.ports import UnitOfWork
from signoff.store.postgres.store import PostgresStore
from signoff.store.postgres.unit_of_work import PostgresUnitOfWork

from .postgres import SERVER, scratch_schema

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pg() -> AsyncIterator[PostgresStore]:
    with scratch_schema() as url:
        store = await PostgresStore(url).open()
        try:
            yield store
        finally:
            await store.close()


async def test_a_deadlock_victim_runs_again_and_both_jobs_commit(pg: PostgresStore) -> None:
    both_hold_one = threading.Barrier(2, timeout=10)
    runs = {"left": 0, "right": 0}

    def job(name: str, first: str, second: str) -> Callable[[UnitOfWork], str]:
        def run(uow: UnitOfWork) -> str:
            runs[name] += 1
            uow.events.hold("acme", "case", first)
            if runs[name] == 1:
                both_hold_one.wait()  # each now waits for the other's aggregate
            uow.events.hold("acme", "case", second)
            uow.checkpoints.set(name, runs[name])
            return name
        return run

    done: list[str] = []

    async def one(name: str, first: str, second: str) -> None:
        done.append(await pg.write(job(name, first, second)))

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(one, "left", "case-a", "case-b")
            tasks.start_soon(one, "right", "case-b", "case-a")

    assert sorted(done) == ["left", "right"]
    assert sorted(runs.values()) == [1, 2]  # one victim, run once more
    checkpoints = await pg.read(lambda uow: uow.checkpoints.all())
    assert checkpoints == runs


async def test_a_connection_the_server_dropped_is_replaced(pg: PostgresStore) -> None:
    await pg.write(lambda uow: uow.checkpoints.set("before", 1))
    def backend(uow: UnitOfWork) -> int:
        assert isinstance(uow, PostgresUnitOfWork)
        row = uow.sql.one("SELECT pg_backend_pid()")
        assert row is not None
        return int(row[0])

    pid = await pg.read(backend)
    with psycopg.connect(SERVER, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))

    await pg.write(lambda uow: uow.checkpoints.set("after", 2))
    assert await pg.read(lambda uow: uow.checkpoints.get("after")) == 2
