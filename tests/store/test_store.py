"""Store: write jobs commit or roll back alone, reads see one snapshot, close ends it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import anyio
import anyio.to_thread
import pytest

from signoff.store.errors import StoreClosed, VersionConflict, WriteInRead
from signoff.store.ports import Store, UnitOfWork
from signoff.store.sqlite.store import SqliteStore

from .conftest import reads_beside_writer
from .factories import TENANT, chain_breaks, event

pytestmark = pytest.mark.anyio


class Boom(Exception):
    pass


async def test_write_returns_what_the_job_returns(store: Store) -> None:
    assert await store.write(lambda uow: ("done", uow.checkpoints.get("x"))) == ("done", 0)


async def test_a_job_that_raises_gets_its_own_exception_and_leaves_nothing(store: Store) -> None:
    def job(uow: UnitOfWork) -> None:
        uow.events.append([event("case-1", 1)])
        uow.checkpoints.set("cases", 1)
        raise Boom("handler failed")

    with pytest.raises(Boom, match="handler failed"):
        await store.write(job)
    assert await store.read(lambda uow: (uow.events.head(), uow.checkpoints.get("cases"))) == (0, 0)


def _grouped_job(i: int) -> Callable[[UnitOfWork], int]:
    """Job i appends case-i v1 and a checkpoint; every third raises after
    writing, every fifth (not third) collides with case-base after writing
    (committed before the jobs: whichever order they run in, on an adapter
    that runs them side by side, the same ones collide)."""

    def job(uow: UnitOfWork) -> int:
        uow.checkpoints.set(f"job-{i}", i)
        uow.events.append([event(f"case-{i}", 1)])
        if i % 3 == 2:
            raise Boom(f"job {i}")
        if i % 5 == 4:
            uow.events.append([event("case-base", 1, event_id=f"dup-{i}")])
        return i

    return job


async def test_concurrent_jobs_are_grouped_and_a_failing_one_undoes_only_itself(
    store: Store,
) -> None:
    gate = threading.Event()

    def blocker(uow: UnitOfWork) -> str:
        gate.wait(10)  # holds the writer until every other job is queued
        uow.checkpoints.set("blocker", 1)
        return "blocker"

    await store.write(lambda uow: uow.events.append([event("case-base", 1)]))
    batches_before = store.batches if isinstance(store, SqliteStore) else 0
    jobs = 40
    pending = [store.write(blocker)] + [store.write(_grouped_job(i)) for i in range(jobs)]
    gate.set()
    results = await asyncio.gather(*pending, return_exceptions=True)
    batches = (store.batches - batches_before) if isinstance(store, SqliteStore) else None

    ok = [i for i in range(jobs) if i % 3 != 2 and i % 5 != 4]
    assert results[0] == "blocker"
    for i, result in enumerate(results[1:]):
        if i in ok:
            assert result == i
        elif i % 3 == 2:
            assert isinstance(result, Boom)
            assert str(result) == f"job {i}"
        else:
            assert isinstance(result, VersionConflict)

    def state(uow: UnitOfWork) -> tuple[list[int], list[str]]:
        checkpoints = [i for i in range(jobs) if uow.checkpoints.get(f"job-{i}") == i]
        return checkpoints, [e.aggregate_id for e in uow.events.read_after(0, 1000)]

    checkpoints, aggregates = await store.read(state)
    assert checkpoints == ok
    assert sorted(aggregates) == sorted([*(f"case-{i}" for i in ok), "case-base"])
    log = await store.read(lambda uow: uow.events.read_after(0, 1000))
    assert chain_breaks(log) == []  # positions 1..n: rolled-back jobs leave no gaps
    if batches is not None:
        # Whatever ran with the blocker, the jobs queued behind it shared one
        # commit, so at least one batch mixed failing and succeeding jobs.
        assert 1 <= batches <= 2 < len(pending)


async def test_read_sees_one_snapshot(store: Store) -> None:
    if not reads_beside_writer(store):
        pytest.skip("reads run on the writer here; nothing can commit during one")
    await store.write(lambda uow: uow.events.append([event("case-1", 1)]))
    inside, committed = threading.Event(), threading.Event()

    def reader(uow: UnitOfWork) -> tuple[int, int, int]:
        first = uow.events.head()
        inside.set()
        assert committed.wait(10)
        return first, uow.events.head(), len(uow.events.read_after(0, 100))

    seen: list[tuple[int, int, int]] = []

    async def read() -> None:
        seen.append(await store.read(reader))

    async with anyio.create_task_group() as tg:
        tg.start_soon(read)
        assert await anyio.to_thread.run_sync(inside.wait, 10)
        await store.write(lambda uow: uow.events.append([event("case-1", 2)]))
        committed.set()

    assert seen == [(1, 1, 1)]
    assert await store.read(lambda uow: uow.events.head()) == 2


async def test_writing_inside_a_read_is_an_error(store: Store) -> None:
    with pytest.raises(WriteInRead):
        await store.read(lambda uow: uow.checkpoints.set("cases", 9))
    assert await store.read(lambda uow: uow.checkpoints.get("cases")) == 0


def _raises_through_savepoint(uow: UnitOfWork, body: Callable[[], None]) -> bool:
    """Run body in a savepoint and raise Boom inside; True if Boom came out."""
    try:
        with uow.savepoint():
            body()
            raise Boom
    except Boom:
        return True
    return False


async def test_savepoint_undoes_only_its_block(store: Store) -> None:
    def job(uow: UnitOfWork) -> str:
        uow.checkpoints.set("before", 1)

        def inside() -> None:
            uow.checkpoints.set("inside", 1)
            uow.events.append([event("case-1", 1)])

        assert _raises_through_savepoint(uow, inside)
        with uow.savepoint():
            uow.checkpoints.set("kept", 1)
        uow.checkpoints.set("after", 1)
        return "ok"

    assert await store.write(job) == "ok"

    def names(uow: UnitOfWork) -> dict[str, int]:
        return {n: uow.checkpoints.get(n) for n in ("before", "inside", "kept", "after")}

    assert await store.read(names) == {"before": 1, "inside": 0, "kept": 1, "after": 1}
    assert await store.read(lambda uow: uow.events.head()) == 0


async def test_savepoints_nest(store: Store) -> None:
    def job(uow: UnitOfWork) -> None:
        with uow.savepoint():
            uow.checkpoints.set("outer", 1)
            assert _raises_through_savepoint(uow, lambda: uow.checkpoints.set("inner", 1))
            uow.checkpoints.set("outer-after", 1)

        def outer_2() -> None:
            uow.checkpoints.set("outer-2", 1)
            with uow.savepoint():
                uow.checkpoints.set("inner-2", 1)

        assert _raises_through_savepoint(uow, outer_2)

    await store.write(job)

    def names(uow: UnitOfWork) -> dict[str, int]:
        keys = ("outer", "inner", "outer-after", "outer-2", "inner-2")
        return {n: uow.checkpoints.get(n) for n in keys}

    assert await store.read(names) == {
        "outer": 1, "inner": 0, "outer-after": 1, "outer-2": 0, "inner-2": 0,
    }


async def test_a_savepoint_lets_a_job_record_a_conflict_instead_of_failing(store: Store) -> None:
    await store.write(lambda uow: uow.events.append([event("case-1", 2)]))

    def job(uow: UnitOfWork) -> str:
        try:
            with uow.savepoint():
                uow.events.append([event("case-1", 1), event("case-1", 2, event_id="dup")])
        except VersionConflict:
            uow.checkpoints.set("conflicts", 1)
            return "conflict"
        return "appended"

    assert await store.write(job) == "conflict"
    stream = await store.read(lambda uow: uow.events.stream(TENANT, "case", "case-1"))
    assert [e.aggregate_version for e in stream] == [2]
    assert await store.read(lambda uow: uow.checkpoints.get("conflicts")) == 1


def _set_checkpoint(name: str, position: int) -> Callable[[UnitOfWork], None]:
    return lambda uow: uow.checkpoints.set(name, position)


async def test_writes_submitted_before_close_complete(store: Store) -> None:
    pending = [store.write(_set_checkpoint(f"c-{i}", i)) for i in range(10)]
    await store.close()
    assert await asyncio.gather(*pending) == [None] * 10


async def test_the_store_refuses_work_after_close(store: Store) -> None:
    await store.close()
    await store.close()  # closing twice is harmless

    with pytest.raises(StoreClosed):
        await store.write(lambda uow: uow.checkpoints.set("x", 1))
    with pytest.raises(StoreClosed):
        await store.read(lambda uow: uow.checkpoints.get("x"))
