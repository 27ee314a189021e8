"""PostgreSQL: global positions become visible in order, without gaps, while
many appenders commit at once. The classic event-store bug: positions handed
out by a sequence commit out of order, a reader sees n+1 before n and moves
its checkpoint past n, which it then never reads."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import AsyncIterator, Callable

import anyio
import pytest

from signoff.store.ports import UnitOfWork
from signoff.store.postgres.store import PostgresStore
from signoff.store.records import EventEnvelope

from .factories import chain_breaks, event
from .postgres import scratch_schema

pytestmark = pytest.mark.anyio

APPENDERS = 8
APPENDS_EACH = 25


@pytest.fixture
async def pg() -> AsyncIterator[PostgresStore]:
    with scratch_schema() as url:
        store = await PostgresStore(url, max_size=APPENDERS + 2).open()
        try:
            yield store
        finally:
            await store.close()


def _append_slowly(events: list[EventEnvelope], pause: float) -> Callable[[UnitOfWork], None]:
    def job(uow: UnitOfWork) -> None:
        uow.events.append(events)
        time.sleep(pause)  # hold the transaction open: a later append may commit first

    return job


def _page_after(checkpoint: int) -> Callable[[UnitOfWork], list[EventEnvelope]]:
    return lambda uow: uow.events.read_after(checkpoint, 50)


async def test_a_reader_never_finds_an_event_below_its_checkpoint(pg: PostgresStore) -> None:
    done = threading.Event()
    rng = random.Random(14)
    plans = [
        [(rng.randint(1, 3), rng.uniform(0, 0.003)) for _ in range(APPENDS_EACH)]
        for _ in range(APPENDERS)
    ]
    expected = sum(size for plan in plans for size, _ in plan)
    problems: list[str] = []
    checkpoint = 0

    async def appender(n: int) -> None:
        version = 0
        for size, pause in plans[n]:
            batch = [event(f"case-{n}", version + i + 1) for i in range(size)]
            version += size
            await pg.write(_append_slowly(batch, pause))

    async def reader() -> None:
        nonlocal checkpoint
        while True:
            finished = done.is_set()  # read before the page: then the page is complete
            page = await pg.read(_page_after(checkpoint))
            positions = [e.position for e in page]
            wanted = list(range(checkpoint + 1, checkpoint + 1 + len(page)))
            if positions != wanted:
                problems.append(f"after {checkpoint} saw {positions[:5]}..., not {wanted[:5]}...")
                return
            if page:
                checkpoint = positions[-1]
            elif finished:
                return

    async with anyio.create_task_group() as readers:
        readers.start_soon(reader)
        async with anyio.create_task_group() as appenders:
            for n in range(APPENDERS):
                appenders.start_soon(appender, n)
        done.set()

    assert problems == []
    assert checkpoint == expected
    log = await pg.read(lambda uow: uow.events.read_after(0, expected + 10))
    assert chain_breaks(log) == []
    for n in range(APPENDERS):
        versions = [e.aggregate_version for e in log if e.aggregate_id == f"case-{n}"]
        assert versions == list(range(1, len(versions) + 1))
