"""What the ports raise is a store error, whatever the adapter: a job can
catch it, and go on, without knowing which database it runs on."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from signoff.store.errors import (
    DuplicateRecord,
    DuplicateVote,
    StoreError,
    VersionConflict,
    WriteInRead,
)
from signoff.store.ports import Store, UnitOfWork

from .factories import (
    at,
    decision,
    event,
    outbox_message,
    proposal,
    proposal_event,
    runtime_entry,
    vote,
)

pytestmark = pytest.mark.anyio

# Each writes one record whose key was written before.
DUPLICATES: dict[str, Callable[[UnitOfWork], object]] = {
    "proposal id": lambda uow: uow.proposals.add(proposal("prop-1", tenant_id="globex")),
    "idempotency key": lambda uow: uow.proposals.add(proposal("prop-2", idempotency_key="idem-1")),
    "decision id": lambda uow: uow.proposals.add_decision(decision()),
    "vote id": lambda uow: uow.proposals.add_vote(
        vote(voter_id="bob", vote_id="vote-prop-1-alice")),
    "runtime entry id": lambda uow: uow.runtime.append([runtime_entry("e-1")]),
    "outbox message id": lambda uow: uow.outbox.add([outbox_message("m-1")]),
    "event id": lambda uow: uow.events.append(
        [event("case-2", 1, event_id="ev-acme-case-case-1-1")]),
}


def first_of_each(uow: UnitOfWork) -> None:
    uow.events.append([event("case-1", 1)])
    uow.proposals.add(proposal("prop-1", idempotency_key="idem-1"))
    uow.proposals.add_event(proposal_event("prop-1", 1))
    uow.proposals.add_decision(decision())
    uow.proposals.add_vote(vote())
    uow.runtime.append([runtime_entry("e-1")])
    uow.outbox.add([outbox_message("m-1")])


@pytest.mark.parametrize("write", list(DUPLICATES))
async def test_a_taken_key_is_a_duplicate_record(store: Store, write: str) -> None:
    await store.write(first_of_each)
    head = await store.read(lambda uow: uow.events.head())

    with pytest.raises(DuplicateRecord) as caught:
        await store.write(DUPLICATES[write])
    assert caught.value.key  # it names the fields whose values were taken
    assert not isinstance(caught.value, VersionConflict | DuplicateVote)
    assert await store.read(lambda uow: uow.events.head()) == head


async def test_a_second_vote_is_a_duplicate_vote_and_a_duplicate_record(store: Store) -> None:
    await store.write(first_of_each)
    with pytest.raises(DuplicateVote, match="alice has already voted") as caught:
        await store.write(lambda uow: uow.proposals.add_vote(vote(vote_id="vote-2")))
    assert isinstance(caught.value, DuplicateRecord)


async def test_a_job_that_catches_a_duplicate_goes_on_and_commits(store: Store) -> None:
    """Two submissions racing on one idempotency key: the second finds the
    first's record instead of failing."""
    await store.write(lambda uow: uow.proposals.add(proposal("prop-1", idempotency_key="idem-1")))

    def remember_or_reuse(uow: UnitOfWork) -> str:
        try:
            uow.proposals.add(proposal("prop-2", idempotency_key="idem-1"))
        except DuplicateRecord:
            uow.checkpoints.set("reused", 1)
            found = uow.proposals.by_idempotency_key("acme", "agent-1", "idem-1")
            assert found is not None
            return found.proposal_id
        return "prop-2"

    assert await store.write(remember_or_reuse) == "prop-1"
    assert await store.read(lambda uow: uow.checkpoints.get("reused")) == 1


WRITES: dict[str, Callable[[UnitOfWork], object]] = {
    "event": lambda uow: uow.events.append([event()]),
    "proposal": lambda uow: uow.proposals.add(proposal()),
    "outbox": lambda uow: uow.outbox.add([outbox_message("m-1")]),
    "lease": lambda uow: uow.outbox.claim("relay-a", at(0), at(1), 10),
    "checkpoint": lambda uow: uow.checkpoints.set("cases", 9),
    "inbox": lambda uow: uow.inbox.record("consumer", "m-1", at(0)),
    "read model": lambda uow: uow.read_models.writer("acme", "cases").put("k", {"a": 1}),
    "runtime": lambda uow: uow.runtime.append([runtime_entry("e-1")]),
}


@pytest.mark.parametrize("write", list(WRITES))
async def test_every_write_inside_a_read_is_write_in_read(store: Store, write: str) -> None:
    await store.write(lambda uow: uow.outbox.add([outbox_message("m-0")]))  # one to lease
    with pytest.raises(WriteInRead) as caught:
        await store.read(WRITES[write])
    assert isinstance(caught.value, StoreError)
    assert await store.read(lambda uow: uow.events.head()) == 0
    assert await store.read(lambda uow: uow.outbox.in_flight(at(0))) == 0
