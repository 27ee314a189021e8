"""Outbox leases: two relays never publish one row at once, and the rows of
one aggregate go out in order."""

from __future__ import annotations

from datetime import datetime

import pytest

from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import OutboxMessage

from .factories import OTHER_TENANT, TENANT, at, outbox_message

pytestmark = pytest.mark.anyio

A, B = "relay-a", "relay-b"


def msg(
    message_id: str, aggregate_id: str | None, *, next_attempt_at: datetime | None = None,
    tenant_id: str = TENANT,
) -> OutboxMessage:
    return outbox_message(
        message_id, aggregate_id=aggregate_id, next_attempt_at=next_attempt_at,
        tenant_id=tenant_id,
    )


async def add(store: Store, *messages: OutboxMessage) -> None:
    await store.write(lambda uow: uow.outbox.add(list(messages)))


async def claim(store: Store, owner: str, now: float, until: float, limit: int = 100) -> list[str]:
    claimed = await store.write(lambda uow: uow.outbox.claim(owner, at(now), at(until), limit))
    return [m.message_id for m in claimed]


async def complete(store: Store, owner: str, message_id: str, now: float) -> bool:
    return await store.write(lambda uow: uow.outbox.complete(owner, message_id, at(now)))


async def test_claim_leases_due_rows_in_position_order(store: Store) -> None:
    await add(store, msg("m-1", "n-1"), msg("m-2", "n-2"), msg("m-3", None))
    assert await claim(store, A, now=0, until=5, limit=2) == ["m-1", "m-2"]
    assert await claim(store, B, now=1, until=6) == ["m-3"]
    assert await claim(store, "relay-c", now=2, until=7) == []


async def test_a_leased_row_is_not_claimed_by_another_until_the_lease_expires(
    store: Store,
) -> None:
    await add(store, msg("m-1", None))
    assert await claim(store, A, now=0, until=5) == ["m-1"]
    assert await store.read(lambda uow: uow.outbox.in_flight(at(1))) == 1

    assert await claim(store, B, now=4, until=9) == []
    assert await claim(store, A, now=4, until=9) == ["m-1"]  # its own lease, taken back
    assert await claim(store, B, now=8, until=12) == []  # A's lease now runs to 9
    assert await claim(store, B, now=9, until=12) == ["m-1"]
    # A's lease is gone: completing or failing it no longer works for A.
    assert await store.write(lambda uow: uow.outbox.complete(A, "m-1", at(10))) is False
    assert await store.write(
        lambda uow: uow.outbox.fail(A, "m-1", "late", None, dead=True)
    ) is False
    assert await store.write(lambda uow: uow.outbox.complete(B, "m-1", at(10))) is True


async def test_complete_publishes_once_and_records_when(store: Store) -> None:
    await add(store, msg("m-1", None), msg("m-2", None))
    await claim(store, A, now=0, until=5)

    assert await store.write(lambda uow: uow.outbox.complete(A, "m-1", at(1))) is True
    assert await store.write(lambda uow: uow.outbox.complete(A, "m-1", at(2))) is False
    assert await store.write(lambda uow: uow.outbox.complete(B, "m-2", at(2))) is False

    published = await store.read(lambda uow: uow.outbox.get("m-1"))
    assert published is not None
    assert (published.status, published.attempts) == ("published", 1)
    assert await store.read(
        lambda uow: uow.outbox.published_at(["m-1", "m-2", "nope"])
    ) == {"m-1": at(1)}
    assert await store.read(lambda uow: uow.outbox.published_at([])) == {}
    assert await store.read(lambda uow: uow.outbox.in_flight(at(1))) == 1  # m-2 still leased


async def test_complete_many_publishes_only_the_rows_the_owner_still_holds(
    store: Store,
) -> None:
    await add(store, msg("m-1", None), msg("m-2", None), msg("m-3", None), msg("m-4", None))
    await claim(store, A, now=0, until=5, limit=3)
    await claim(store, B, now=1, until=6)  # m-4
    assert await complete(store, A, "m-2", now=1) is True  # already published

    done = await store.write(
        lambda uow: uow.outbox.complete_many(A, ["m-1", "m-2", "m-3", "m-4", "nope"], at(2)))
    assert done == 2  # m-1 and m-3; m-2 was published before, m-4 is B's
    assert await store.write(lambda uow: uow.outbox.complete_many(A, [], at(2))) == 0
    rows = await store.read(lambda uow: [uow.outbox.get(m) for m in ("m-1", "m-3", "m-4")])
    assert [(r.status, r.attempts) for r in rows if r is not None] == [
        ("published", 1), ("published", 1), ("pending", 0)]
    assert await store.read(
        lambda uow: uow.outbox.published_at(["m-1", "m-2", "m-3"])
    ) == {"m-1": at(2), "m-2": at(1), "m-3": at(2)}
    assert await store.read(lambda uow: uow.outbox.in_flight(at(2))) == 1  # m-4, B's


async def test_fail_counts_an_attempt_and_drops_the_lease(store: Store) -> None:
    await add(store, msg("m-1", None))
    await claim(store, A, now=0, until=5)

    assert await store.write(
        lambda uow: uow.outbox.fail(A, "m-1", "timeout", at(3), dead=False)
    ) is True
    failed = await store.read(lambda uow: uow.outbox.get("m-1"))
    assert failed is not None
    assert (failed.status, failed.attempts, failed.last_error) == ("pending", 1, "timeout")
    assert await store.read(lambda uow: uow.outbox.in_flight(at(1))) == 0
    assert await claim(store, B, now=2, until=9) == []  # not due before its next attempt
    assert await claim(store, B, now=3, until=9) == ["m-1"]  # no lease left in the way

    assert await store.write(
        lambda uow: uow.outbox.fail(B, "m-1", "refused", None, dead=True)
    ) is True
    dead = await store.read(lambda uow: uow.outbox.get("m-1"))
    assert dead is not None
    assert (dead.status, dead.attempts, dead.last_error) == ("dead", 2, "refused")
    assert await claim(store, B, now=100, until=200) == []


async def test_release_drops_only_the_owners_leases_without_an_attempt(store: Store) -> None:
    await add(store, msg("m-1", None), msg("m-2", None), msg("m-3", None))
    await claim(store, A, now=0, until=50, limit=2)
    await claim(store, B, now=0, until=50)

    await store.write(lambda uow: uow.outbox.release(A, ["m-1", "m-3"]))
    assert await store.read(lambda uow: uow.outbox.in_flight(at(1))) == 2  # m-2 (A), m-3 (B)
    assert await claim(store, B, now=1, until=50) == ["m-1", "m-3"]
    released = await store.read(lambda uow: uow.outbox.get("m-1"))
    assert released is not None
    assert released.attempts == 0


async def test_an_aggregates_rows_wait_behind_its_first_unclaimable_row(store: Store) -> None:
    await add(
        store,
        msg("n1-a", "notice-1"),
        msg("n2-a", "notice-2", next_attempt_at=at(10)),
        msg("n1-b", "notice-1"),
        msg("n2-b", "notice-2"),
        msg("free", None),
        msg("other-tenant", "notice-1", tenant_id=OTHER_TENANT),
    )

    # notice-2's first row is not due, so its second waits; another tenant's
    # aggregate of the same id is not held up.
    assert await claim(store, A, now=0, until=5) == ["n1-a", "n1-b", "free", "other-tenant"]
    await store.write(lambda uow: uow.outbox.release(A, ["n1-b"]))
    # notice-1's first row is A's: B may not overtake it with the second.
    assert await claim(store, B, now=1, until=5) == []
    # Once A's leases expire and notice-2's first row is due, all go, in order.
    assert await claim(store, B, now=10, until=15) == [
        "n1-a", "n2-a", "n1-b", "n2-b", "free", "other-tenant",
    ]


async def test_a_dead_row_holds_back_its_aggregate_until_it_is_retried(store: Store) -> None:
    """Delivering later rows past a dead one would put them out of order once
    the dead one is retried: they wait for it. Published rows block nothing."""
    await add(store, msg("m-1", "notice-1"), msg("m-2", "notice-1"), msg("m-3", "notice-1"),
              msg("other", "notice-2"))
    assert await claim(store, A, now=0, until=5) == ["m-1", "m-2", "m-3", "other"]
    await store.write(lambda uow: uow.outbox.fail(A, "m-1", "poison", None, dead=True))
    await store.write(lambda uow: uow.outbox.release(A, ["m-2", "m-3", "other"]))

    assert await claim(store, A, now=1, until=5) == ["other"]
    await store.write(lambda uow: uow.outbox.complete(A, "other", at(2)))
    assert await claim(store, B, now=9, until=15) == []  # still held back, leases or not
    await store.write(lambda uow: uow.outbox.retry("m-1"))
    delivered: list[str] = []
    for now in (10, 11, 12):
        [message_id] = await claim(store, B, now=now, until=now + 5, limit=1)
        await complete(store, B, message_id, now)
        delivered.append(message_id)
    assert delivered == ["m-1", "m-2", "m-3"]


async def test_a_dead_row_holds_back_only_later_rows_of_its_own_aggregate(store: Store) -> None:
    await add(store, msg("early", "notice-1"))
    await claim(store, A, now=0, until=5)
    await store.write(lambda uow: uow.outbox.complete(A, "early", at(1)))
    await add(store, msg("dead", "notice-1"), msg("late", "notice-1"),
              msg("same-id", "notice-1", tenant_id=OTHER_TENANT), msg("free", None))
    await claim(store, A, now=1, until=5, limit=1)
    await store.write(lambda uow: uow.outbox.fail(A, "dead", "poison", None, dead=True))
    assert await claim(store, B, now=2, until=9) == ["same-id", "free"]


async def test_rows_that_cannot_go_never_hold_back_the_due_rows_behind_them(
    store: Store,
) -> None:
    """Not due, leased, or held back by their aggregate: however many there
    are, the due rows behind them still go."""
    await add(store, *(msg(f"later-{i}", None, next_attempt_at=at(99)) for i in range(20)))
    await add(store, msg("leased", None))
    assert await claim(store, B, now=0, until=50) == ["leased"]
    await add(store, *(msg(f"queued-{i}", "notice-1", next_attempt_at=at(99)) for i in range(2)))
    await add(store, msg("behind", "notice-1"), msg("due", None), msg("due-2", None))
    assert await claim(store, A, now=0, until=5) == ["due", "due-2"]


async def test_retry_revives_a_dead_row_with_a_fresh_budget(store: Store) -> None:
    await add(store, msg("m-1", None), msg("m-2", None))
    await claim(store, A, now=0, until=5)
    await store.write(lambda uow: uow.outbox.fail(A, "m-1", "gave up", at(50), dead=True))

    revived = await store.write(lambda uow: uow.outbox.retry("m-1"))
    assert revived is not None
    assert (revived.status, revived.attempts, revived.next_attempt_at, revived.last_error) == (
        "pending", 0, None, "gave up",
    )
    assert await store.read(lambda uow: uow.outbox.get("m-1")) == revived
    assert await claim(store, B, now=1, until=9) == ["m-1"]
    assert await store.write(lambda uow: uow.outbox.retry("m-2")) is None  # not dead
    assert await store.write(lambda uow: uow.outbox.retry("nope")) is None


async def test_get_and_by_causation(store: Store) -> None:
    def job(uow: UnitOfWork) -> None:
        uow.outbox.add([
            outbox_message("m-1", causation_id="ev-1"),
            outbox_message("m-2", causation_id="ev-2"),
            outbox_message("m-3", causation_id="ev-1"),
        ])

    await store.write(job)
    got = await store.read(lambda uow: uow.outbox.get("m-2"))
    assert got is not None
    assert got == outbox_message("m-2", causation_id="ev-2").model_copy(
        update={"position": got.position}
    )
    assert await store.read(lambda uow: uow.outbox.get("nope")) is None
    caused = await store.read(lambda uow: uow.outbox.by_causation("ev-1"))
    assert [m.message_id for m in caused] == ["m-1", "m-3"]
    assert [m.message_id for m in await store.read(
        lambda uow: uow.outbox.by_causation("ev-1", limit=1)
    )] == ["m-1"]


async def test_a_claim_rolls_back_with_its_job(store: Store) -> None:
    await add(store, msg("m-1", None))

    def job(uow: UnitOfWork) -> None:
        assert uow.outbox.claim(A, at(0), at(60), 10)
        raise RuntimeError("the relay crashed mid-claim")

    with pytest.raises(RuntimeError):
        await store.write(job)
    assert await claim(store, B, now=0, until=5) == ["m-1"]


async def test_inbox_handled_lists_the_consumers_of_messages(store: Store) -> None:
    def job(uow: UnitOfWork) -> None:
        uow.inbox.record("mailer", "m-1", at(1))
        uow.inbox.record("archiver", "m-1", at(2))
        uow.inbox.record("mailer", "m-2", at(3))

    await store.write(job)
    handled = await store.read(lambda uow: uow.inbox.handled(["m-1", "m-9"]))
    assert handled == [("mailer", "m-1", at(1)), ("archiver", "m-1", at(2))]
    assert await store.read(lambda uow: uow.inbox.handled([])) == []
