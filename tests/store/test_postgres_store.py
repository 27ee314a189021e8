"""PostgreSQL store: the isolation level of each kind of job, what a failed
statement does to its job, and two stores (as two processes) on one schema
sharing the outbox without leasing one row twice."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable

import anyio
import anyio.to_thread
import pytest

from signoff.store.errors import DuplicateRecord, StorageFailure, StoreError, WriteInRead
from signoff.store.ports import UnitOfWork
from signoff.store.postgres.store import PostgresStore
from signoff.store.postgres.unit_of_work import PostgresUnitOfWork

from .factories import at, event, outbox_message
from .postgres import scratch_schema

pytestmark = pytest.mark.anyio


@pytest.fixture
async def url() -> AsyncIterator[str]:
    with scratch_schema() as made:
        yield made


@pytest.fixture
async def pg(url: str) -> AsyncIterator[PostgresStore]:
    store = await PostgresStore(url).open()
    try:
        yield store
    finally:
        await store.close()


def sql(uow: UnitOfWork) -> PostgresUnitOfWork:
    assert isinstance(uow, PostgresUnitOfWork)
    return uow


def settings(uow: UnitOfWork) -> tuple[object, ...]:
    row = sql(uow).sql.one("SELECT current_setting('transaction_isolation'), "
                           "current_setting('transaction_read_only')")
    assert row is not None
    return row


async def test_a_write_runs_at_read_committed_and_a_read_at_repeatable_read_read_only(
    pg: PostgresStore,
) -> None:
    assert await pg.write(settings) == ("read committed", "off")
    assert await pg.read(settings) == ("repeatable read", "on")


async def test_a_write_sees_what_committed_between_its_statements(pg: PostgresStore) -> None:
    """READ COMMITTED: each statement takes a fresh snapshot (what the event
    log's lock relies on), unlike a read, which keeps its first one."""
    inside, committed = threading.Event(), threading.Event()

    def writer(uow: UnitOfWork) -> tuple[int, int]:
        first = uow.events.head()
        inside.set()
        assert committed.wait(10)
        return first, uow.events.head()

    seen: list[tuple[int, int]] = []

    async def run() -> None:
        seen.append(await pg.write(writer))

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        assert await anyio.to_thread.run_sync(inside.wait, 10)
        await pg.write(lambda uow: uow.events.append([event("case-1", 1)]))
        committed.set()
    assert seen == [(0, 1)]


async def test_any_write_in_a_read_is_refused_by_the_database(pg: PostgresStore) -> None:
    with pytest.raises(WriteInRead):
        await pg.read(lambda uow: sql(uow).sql.run(
            "INSERT INTO checkpoints (name, position) VALUES ('x', 1)"))
    assert await pg.read(lambda uow: uow.checkpoints.all()) == {}


async def test_a_job_that_goes_on_after_a_failed_statement_writes_nothing(
    pg: PostgresStore,
) -> None:
    """PostgreSQL aborts the transaction at a failed statement and would
    answer the COMMIT with a rollback: the job is told, not left believing."""
    def job(uow: UnitOfWork) -> str:
        uow.checkpoints.set("before", 1)
        try:
            sql(uow).sql.run("SELECT 1 / 0")
        except StoreError:
            return "carried on"
        return "unreachable"

    with pytest.raises(StorageFailure, match="went on"):
        await pg.write(job)
    assert await pg.read(lambda uow: uow.checkpoints.all()) == {}


async def test_a_taken_key_among_several_rows_leaves_the_job_usable(pg: PostgresStore) -> None:
    await pg.write(lambda uow: uow.outbox.add([outbox_message("m-1")]))

    def job(uow: UnitOfWork) -> str:
        try:
            uow.outbox.add([outbox_message("m-2"), outbox_message("m-1")])
        except DuplicateRecord as exc:
            uow.checkpoints.set("duplicate", 1)
            return ",".join(exc.key)
        return "added"

    assert await pg.write(job) == "message_id"
    assert [m.message_id for m in await pg.read(lambda uow: uow.outbox.find())] == ["m-1"]
    assert await pg.read(lambda uow: uow.checkpoints.get("duplicate")) == 1


def _claim(owner: str, limit: int) -> Callable[[UnitOfWork], list[str]]:
    return lambda uow: [m.message_id for m in uow.outbox.claim(owner, at(0), at(5), limit)]


@pytest.mark.parametrize(("limit", "b_takes"), [(10, ["b-1", "free"]), (1, ["b-1"])])
async def test_two_stores_claiming_at_once_never_share_a_row_nor_overtake_in_an_aggregate(
    pg: PostgresStore, url: str, limit: int, b_takes: list[str],
) -> None:
    """Relay A's claim is still open (its rows locked, its lease not yet
    committed) when relay B, in another store, claims: B skips A's row and
    every later row of that aggregate, and takes the rest without waiting,
    even when all it asked for was the row A holds (limit 1)."""
    await pg.write(lambda uow: uow.outbox.add([
        outbox_message("a-1", aggregate_id="n-1"), outbox_message("a-2", aggregate_id="n-1"),
        outbox_message("b-1", aggregate_id="n-2"), outbox_message("free", aggregate_id=None),
    ]))
    claimed, release = threading.Event(), threading.Event()

    def slow_claim(uow: UnitOfWork) -> list[str]:
        taken = _claim("relay-a", 1)(uow)
        claimed.set()
        assert release.wait(10)
        return taken

    other = await PostgresStore(url).open()
    try:
        results: dict[str, list[str]] = {}

        async def relay_a() -> None:
            results["a"] = await pg.write(slow_claim)

        async with anyio.create_task_group() as tg:
            tg.start_soon(relay_a)
            assert await anyio.to_thread.run_sync(claimed.wait, 10)
            with anyio.fail_after(5):  # SKIP LOCKED: B does not wait for A
                results["b"] = await other.write(_claim("relay-b", limit))
            release.set()
    finally:
        await other.close()

    assert results == {"a": ["a-1"], "b": b_takes}
    # Once A's lease is committed, it holds: nobody else takes a-1 or a-2 now.
    left = [m for m in ["b-1", "free"] if m not in b_takes]
    assert await pg.write(_claim("relay-c", 10)) == left


async def test_a_read_that_handles_a_refused_write_keeps_what_it_read(pg: PostgresStore) -> None:
    await pg.write(lambda uow: uow.checkpoints.set("c", 3))

    def read(uow: UnitOfWork) -> int:
        seen = uow.checkpoints.get("c")
        try:
            uow.checkpoints.set("c", 4)
        except WriteInRead:
            return seen
        return -1

    assert await pg.read(read) == 3
