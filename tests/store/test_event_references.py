"""What `audit verify` asks the store: the records that name events the log
does not hold, the checkpoints, and the hashes at given positions."""

from __future__ import annotations

import pytest

from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import EventEnvelope, OutboxMessage

from .factories import T0, TENANT, event, proposal

pytestmark = pytest.mark.anyio


def carrying(e: EventEnvelope, **changes: object) -> OutboxMessage:
    """The outbox row committed beside `e` (as committer.py writes it)."""
    payload = e.model_dump(mode="json")
    payload.update(changes)
    return OutboxMessage(message_id=e.event_id, tenant_id=TENANT, topic=e.event_type,
                         aggregate_id=e.aggregate_id, payload=payload, created_at=T0)


async def logged(store: Store) -> list[EventEnvelope]:
    """Two events, each named by an executed proposal and its outbox row."""
    def job(uow: UnitOfWork) -> list[EventEnvelope]:
        stamped = uow.events.append([event("case-1", 1), event("case-1", 2)])
        for n, e in enumerate(stamped):
            uow.proposals.add(proposal(f"p{n}", status="executed").model_copy(
                update={"event_ids": (e.event_id,)}))
        uow.outbox.add([carrying(e) for e in stamped])
        uow.proposals.add(proposal("p-pending"))  # names no event
        return stamped

    return await store.write(job)


async def unlogged(store: Store) -> tuple[list[tuple[str, str]], list[tuple[str, int]]]:
    return await store.read(lambda uow: (
        uow.proposals.unlogged_events(), uow.outbox.unlogged_events()))


async def test_nothing_is_unlogged_when_every_named_event_is_there(store: Store) -> None:
    await logged(store)
    assert await unlogged(store) == ([], [])


async def test_records_naming_events_the_log_lacks_are_found(store: Store) -> None:
    stamped = await logged(store)
    ghost = event("case-1", 4).model_copy(update={"position": 4, "hash": "c" * 64})

    def job(uow: UnitOfWork) -> EventEnvelope:
        [third] = uow.events.append([event("case-1", 3)])
        uow.proposals.add(proposal("p-ghost", status="executed").model_copy(
            update={"event_ids": (stamped[0].event_id, "ev-gone")}))
        uow.outbox.add([
            carrying(ghost),  # past the head
            carrying(stamped[1].model_copy(update={"event_id": "ev-moved"}), position=1),
            carrying(third, hash="d" * 64),  # the log holds another hash there
            OutboxMessage(message_id="msg-1", tenant_id=TENANT, topic="approval.requested",
                          payload={"proposal_id": "p-pending"}, created_at=T0),
        ])
        return third

    third = await store.write(job)
    proposals, outbox = await unlogged(store)
    assert proposals == [("p-ghost", "ev-gone")]
    assert outbox == [("ev-moved", 1), (third.event_id, 3), (ghost.event_id, 4)]
    assert len(await store.read(lambda uow: uow.outbox.unlogged_events(limit=1))) == 1


async def test_hashes_at_gives_the_hashes_of_the_positions_held(store: Store) -> None:
    stamped = await logged(store)
    hashes = await store.read(lambda uow: uow.events.hashes_at([2, 1, 7]))
    assert hashes == {1: stamped[0].hash, 2: stamped[1].hash}
    assert await store.read(lambda uow: uow.events.hashes_at([])) == {}


async def test_all_checkpoints_by_name(store: Store) -> None:
    assert await store.read(lambda uow: uow.checkpoints.all()) == {}

    def job(uow: UnitOfWork) -> None:
        uow.checkpoints.set("notices", 3)
        uow.checkpoints.set("cases", 7)

    await store.write(job)
    assert await store.read(lambda uow: uow.checkpoints.all()) == {"cases": 7, "notices": 3}
