"""PostgreSQL: jobs changing one proposal run one after the other (`claim`
locks its row), and an expiry sweep skips a proposal another job holds."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

import anyio
import anyio.to_thread
import pytest

from signoff.store.ports import UnitOfWork
from signoff.store.postgres.store import PostgresStore
from signoff.store.postgres.unit_of_work import PostgresUnitOfWork

from .factories import at, proposal
from .postgres import scratch_schema

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pg() -> AsyncIterator[PostgresStore]:
    with scratch_schema() as url:
        store = await PostgresStore(url).open()
        try:
            yield store
        finally:
            await store.close()


def pg_uow(uow: UnitOfWork) -> PostgresUnitOfWork:
    assert isinstance(uow, PostgresUnitOfWork)
    return uow


async def test_a_second_claim_waits_and_reads_what_the_first_committed(
    pg: PostgresStore,
) -> None:
    await pg.write(lambda uow: uow.proposals.add(proposal("p-1")))
    holding, release = threading.Event(), threading.Event()

    def approve(uow: UnitOfWork) -> str:
        found = pg_uow(uow).proposals.claim("p-1", "acme")
        assert found is not None
        holding.set()
        assert release.wait(10)
        moved = found.model_copy(update={"status": "approved"})
        assert uow.proposals.replace(moved, expected_status=found.status)
        return found.status

    def second(uow: UnitOfWork) -> str:
        found = pg_uow(uow).proposals.claim("p-1", None)
        assert found is not None
        return found.status

    seen: dict[str, str] = {}

    async def first() -> None:
        seen["first"] = await pg.write(approve)

    async def then() -> None:
        seen["second"] = await pg.write(second)

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        assert await anyio.to_thread.run_sync(holding.wait, 10)
        tg.start_soon(then)
        await anyio.sleep(0.2)
        assert "second" not in seen  # waiting for the first's row lock
        release.set()
    assert seen == {"first": "pending_approval", "second": "approved"}


async def test_an_expiry_sweep_skips_a_proposal_another_job_holds(pg: PostgresStore) -> None:
    def add(uow: UnitOfWork) -> None:
        for p in ("p-1", "p-2"):
            uow.proposals.add(proposal(p, expires_at=at(1)))

    await pg.write(add)
    holding, release = threading.Event(), threading.Event()

    def hold(uow: UnitOfWork) -> None:
        pg_uow(uow).proposals.claim("p-1", None)
        holding.set()
        assert release.wait(10)

    async def holder() -> None:
        await pg.write(hold)

    async with anyio.create_task_group() as tg:
        tg.start_soon(holder)
        assert await anyio.to_thread.run_sync(holding.wait, 10)
        with anyio.fail_after(5):
            due = await pg.write(lambda uow: uow.proposals.due_for_expiry(at(2)))
        release.set()
    assert [p.proposal_id for p in due] == ["p-2"]
    read = await pg.read(lambda uow: uow.proposals.due_for_expiry(at(2)))
    assert [p.proposal_id for p in read] == ["p-1", "p-2"]
