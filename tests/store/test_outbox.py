"""Outbox: messages written with the events, delivered at least once."""

from __future__ import annotations

import pytest

from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import OutboxMessage

from .factories import at, outbox_message

pytestmark = pytest.mark.anyio


async def add(store: Store, *messages: OutboxMessage) -> None:
    await store.write(lambda uow: uow.outbox.add(list(messages)))


def ids(messages: list[OutboxMessage]) -> list[str]:
    return [m.message_id for m in messages]


async def test_added_messages_are_pending_in_the_order_added(store: Store) -> None:
    await add(store, outbox_message("m-3"), outbox_message("m-1"))
    await add(store, outbox_message("m-2"))

    pending = await store.read(lambda uow: uow.outbox.pending(at(0), 10))
    assert ids(pending) == ["m-3", "m-1", "m-2"]
    positions = [m.position for m in pending]
    assert positions == sorted(positions)
    assert len(set(positions)) == 3
    assert all(p > 0 for p in positions)
    assert pending[0] == outbox_message("m-3").model_copy(update={"position": positions[0]})


async def test_pending_respects_next_attempt_at_and_limit(store: Store) -> None:
    await add(
        store,
        outbox_message("m-now"),
        outbox_message("m-later", next_attempt_at=at(10)),
        outbox_message("m-due", next_attempt_at=at(5)),
        outbox_message("m-also-now"),
    )

    assert ids(await store.read(lambda uow: uow.outbox.pending(at(0), 10))) == [
        "m-now", "m-also-now",
    ]
    assert ids(await store.read(lambda uow: uow.outbox.pending(at(5), 10))) == [
        "m-now", "m-due", "m-also-now",
    ]
    assert ids(await store.read(lambda uow: uow.outbox.pending(at(10), 10))) == [
        "m-now", "m-later", "m-due", "m-also-now",
    ]
    assert ids(await store.read(lambda uow: uow.outbox.pending(at(10), 2))) == [
        "m-now", "m-later",
    ]


async def test_mark_published_takes_the_message_out_of_pending(store: Store) -> None:
    await add(store, outbox_message("m-1"), outbox_message("m-2"))
    await store.write(lambda uow: uow.outbox.mark_published("m-1", at(1)))

    assert ids(await store.read(lambda uow: uow.outbox.pending(at(2), 10))) == ["m-2"]
    [published] = await store.read(lambda uow: uow.outbox.find(status="published"))
    assert (published.message_id, published.status, published.attempts) == ("m-1", "published", 1)


async def test_mark_failed_with_retry_keeps_it_pending_from_the_next_attempt(store: Store) -> None:
    await add(store, outbox_message("m-1"))
    await store.write(lambda uow: uow.outbox.mark_failed("m-1", "timeout", at(10), dead=False))

    assert await store.read(lambda uow: uow.outbox.pending(at(9), 10)) == []
    [retry] = await store.read(lambda uow: uow.outbox.pending(at(10), 10))
    assert (retry.status, retry.attempts, retry.last_error) == ("pending", 1, "timeout")
    assert retry.next_attempt_at == at(10)

    await store.write(lambda uow: uow.outbox.mark_failed("m-1", "refused", at(20), dead=False))
    [again] = await store.read(lambda uow: uow.outbox.pending(at(20), 10))
    assert (again.attempts, again.last_error) == (2, "refused")


async def test_mark_failed_dead_stops_delivery(store: Store) -> None:
    await add(store, outbox_message("m-1"), outbox_message("m-2"))
    await store.write(lambda uow: uow.outbox.mark_failed("m-1", "gave up", None, dead=True))

    assert ids(await store.read(lambda uow: uow.outbox.pending(at(1000), 10))) == ["m-2"]
    [dead] = await store.read(lambda uow: uow.outbox.find(status="dead"))
    assert (dead.message_id, dead.status, dead.attempts, dead.last_error) == (
        "m-1", "dead", 1, "gave up",
    )


async def test_find_filters_by_status_and_correlation(store: Store) -> None:
    await add(
        store,
        outbox_message("m-1", correlation_id="c-1"),
        outbox_message("m-2", correlation_id="c-2"),
        outbox_message("m-3", correlation_id="c-1"),
        outbox_message("m-4", correlation_id=None),
    )
    await store.write(lambda uow: uow.outbox.mark_published("m-3", at(1)))

    async def found(
        status: str | None = None, correlation_id: str | None = None, limit: int = 100
    ) -> list[str]:
        return ids(await store.read(
            lambda uow: uow.outbox.find(status=status, correlation_id=correlation_id, limit=limit)
        ))

    assert await found() == ["m-1", "m-2", "m-3", "m-4"]
    assert await found(correlation_id="c-1") == ["m-1", "m-3"]
    assert await found(status="pending") == ["m-1", "m-2", "m-4"]
    assert await found(status="pending", correlation_id="c-1") == ["m-1"]
    assert await found(limit=2) == ["m-1", "m-2"]
    assert await found(correlation_id="c-9") == []


async def test_counts_by_status(store: Store) -> None:
    assert await store.read(lambda uow: uow.outbox.counts()) == {}
    await add(store, *(outbox_message(f"m-{i}") for i in range(5)))

    def settle(uow: UnitOfWork) -> None:
        uow.outbox.mark_published("m-0", at(1))
        uow.outbox.mark_published("m-1", at(1))
        uow.outbox.mark_failed("m-2", "boom", None, dead=True)
        uow.outbox.mark_failed("m-3", "flaky", at(5), dead=False)

    await store.write(settle)
    assert await store.read(lambda uow: uow.outbox.counts()) == {
        "pending": 2, "published": 2, "dead": 1,
    }


async def test_messages_roll_back_with_the_job_that_wrote_them(store: Store) -> None:
    def job(uow: UnitOfWork) -> None:
        uow.outbox.add([outbox_message("m-1")])
        raise RuntimeError("handler failed after writing the outbox")

    with pytest.raises(RuntimeError):
        await store.write(job)
    assert await store.read(lambda uow: uow.outbox.counts()) == {}
