"""Outbox: messages written with the events, delivered at least once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import pytest

from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import OutboxMessage

from .factories import at, outbox_message

pytestmark = pytest.mark.anyio


RELAY = "relay-a"


async def add(store: Store, *messages: OutboxMessage) -> None:
    await store.write(lambda uow: uow.outbox.add(list(messages)))


def ids(messages: list[OutboxMessage]) -> list[str]:
    return [m.message_id for m in messages]


def message(message_id: str, next_attempt_at: datetime | None = None) -> OutboxMessage:
    """One with no aggregate, so no row waits behind another."""
    return outbox_message(message_id, aggregate_id=None, next_attempt_at=next_attempt_at)


async def due(store: Store, now: datetime, limit: int = 10) -> list[OutboxMessage]:
    """What a relay may take at `now` (the lease is dropped again)."""
    def job(uow: UnitOfWork) -> list[OutboxMessage]:
        claimed = uow.outbox.claim(RELAY, now, now + timedelta(minutes=1), limit)
        uow.outbox.release(RELAY, ids(claimed))
        return claimed

    return await store.write(job)


def settle(
    uow: UnitOfWork, now: datetime, *, published: Sequence[str] = (),
    failed: Mapping[str, tuple[str, datetime | None, bool]] | None = None,
) -> None:
    """Publish some of the due rows and fail others, as a relay does."""
    failed = failed or {}
    claimed = ids(uow.outbox.claim(RELAY, now, now + timedelta(minutes=1), 1000))
    assert set(published) | set(failed) <= set(claimed)
    for message_id in published:
        assert uow.outbox.complete(RELAY, message_id, now)
    for message_id, (error, next_attempt_at, dead) in failed.items():
        assert uow.outbox.fail(RELAY, message_id, error, next_attempt_at, dead=dead)
    uow.outbox.release(RELAY, [m for m in claimed if m not in published and m not in failed])


async def test_added_messages_are_pending_in_the_order_added(store: Store) -> None:
    await add(store, outbox_message("m-3"), outbox_message("m-1"))
    await add(store, outbox_message("m-2"))

    pending = await store.read(lambda uow: uow.outbox.find(status="pending"))
    assert ids(pending) == ["m-3", "m-1", "m-2"]
    positions = [m.position for m in pending]
    assert positions == sorted(positions)
    assert len(set(positions)) == 3
    assert all(p > 0 for p in positions)
    assert pending[0] == outbox_message("m-3").model_copy(update={"position": positions[0]})
    assert await store.read(lambda uow: uow.outbox.in_flight(at(0))) == 0


async def test_a_row_is_due_from_its_next_attempt(store: Store) -> None:
    await add(
        store,
        message("m-now"),
        message("m-later", next_attempt_at=at(10)),
        message("m-due", next_attempt_at=at(5)),
        message("m-also-now"),
    )

    assert ids(await due(store, at(0))) == ["m-now", "m-also-now"]
    assert ids(await due(store, at(5))) == ["m-now", "m-due", "m-also-now"]
    assert ids(await due(store, at(10))) == ["m-now", "m-later", "m-due", "m-also-now"]
    assert ids(await due(store, at(10), limit=2)) == ["m-now", "m-later"]


async def test_a_published_row_is_no_longer_due(store: Store) -> None:
    await add(store, message("m-1"), message("m-2"))
    await store.write(lambda uow: settle(uow, at(1), published=["m-1"]))

    assert ids(await due(store, at(2))) == ["m-2"]
    [published] = await store.read(lambda uow: uow.outbox.find(status="published"))
    assert (published.message_id, published.status, published.attempts) == ("m-1", "published", 1)
    assert await store.read(lambda uow: uow.outbox.published_at(["m-1", "m-2"])) == {"m-1": at(1)}


async def test_a_failed_row_with_a_retry_is_pending_from_the_next_attempt(store: Store) -> None:
    await add(store, message("m-1"))
    await store.write(lambda uow: settle(uow, at(0), failed={"m-1": ("timeout", at(10), False)}))

    assert await due(store, at(9)) == []
    [retry] = await due(store, at(10))
    assert (retry.status, retry.attempts, retry.last_error) == ("pending", 1, "timeout")
    assert retry.next_attempt_at == at(10)

    await store.write(lambda uow: settle(uow, at(10), failed={"m-1": ("refused", at(20), False)}))
    [again] = await due(store, at(20))
    assert (again.attempts, again.last_error) == (2, "refused")


async def test_a_dead_row_is_never_due(store: Store) -> None:
    await add(store, message("m-1"), message("m-2"))
    await store.write(lambda uow: settle(uow, at(0), failed={"m-1": ("gave up", None, True)}))

    assert ids(await due(store, at(1000))) == ["m-2"]
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
    await store.write(lambda uow: settle(uow, at(1), published=["m-3"]))

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

    await store.write(lambda uow: settle(
        uow, at(1), published=["m-0", "m-1"],
        failed={"m-2": ("boom", None, True), "m-3": ("flaky", at(5), False)},
    ))
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


async def test_rows_of_topics_left_for_another_relay_are_never_claimed(store: Store) -> None:
    """A relay without the gateway's invoker leaves tool-call rows alone: it
    must not take (and mark published) what only another relay can act on."""
    now = at(0)
    await add(store, outbox_message("m1", topic="tool_call.approved", aggregate_id="call-1"),
              outbox_message("m2", topic="case.opened", aggregate_id="case-1"),
              outbox_message("m3", topic="tool_call.started", aggregate_id="call-1"))
    taken = await store.write(lambda uow: uow.outbox.claim(
        RELAY, now, now + timedelta(minutes=1), 10, leave={"tool_call.approved"}))
    # m3 waits behind m1, its aggregate's earlier row
    assert [m.message_id for m in taken] == ["m2"]
    everything = await store.write(lambda uow: uow.outbox.claim(
        "other", now, now + timedelta(minutes=1), 10))
    assert [m.message_id for m in everything] == ["m1", "m3"]


def _call_row(message_id: str, call: str, upstream: str) -> OutboxMessage:
    """An upstream call's approval, as the committer writes it (the event,
    carrying its upstream, is the payload)."""
    return outbox_message(message_id, topic="tool_call.approved", aggregate_id=call).model_copy(
        update={"payload": {"payload": {"upstream": upstream}}})


async def test_calls_to_one_upstream_wait_behind_an_earlier_one_across_passes(
    store: Store,
) -> None:
    await add(store, _call_row("x", "call-x", "repo"), _call_row("y", "call-y", "repo"),
              _call_row("z", "call-z", "other"))
    now = at(0)
    first = await store.write(lambda uow: uow.outbox.claim(RELAY, now, now + timedelta(
        minutes=1), 1))
    assert ids(first) == ["x"]
    # another relay, while x is leased: y (same upstream) waits; z does not
    other = await store.write(lambda uow: uow.outbox.claim("relay-b", now, now + timedelta(
        minutes=1), 10))
    assert ids(other) == ["z"]
    # x failed and backs off: y still waits behind it, in approval order
    await store.write(lambda uow: uow.outbox.fail(RELAY, "x", "down", at(5), dead=False))
    later = await store.write(lambda uow: uow.outbox.claim("relay-c", at(1), at(2), 10))
    assert "y" not in ids(later)
