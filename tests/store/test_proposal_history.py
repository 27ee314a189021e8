"""Proposals: the lifecycle stream, the gate's decisions and the votes."""

from __future__ import annotations

import pytest

from signoff.store.errors import DuplicateRecord, DuplicateVote
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import ProposalEvent

from .factories import at, decision, proposal_event, vote

pytestmark = pytest.mark.anyio


async def test_lifecycle_events_are_numbered_by_the_store(store: Store) -> None:
    def job(uow: UnitOfWork) -> list[ProposalEvent]:
        # The seq given is ignored: the store numbers each proposal's stream.
        return [
            uow.proposals.add_event(proposal_event("prop-1", 7, "proposal.proposed")),
            uow.proposals.add_event(proposal_event("prop-2", 1, "proposal.proposed")),
            uow.proposals.add_event(proposal_event("prop-1", 7, "proposal.approved")),
        ]

    first, other, second = await store.write(job)
    third = await store.write(
        lambda uow: uow.proposals.add_event(proposal_event("prop-1", 1, "proposal.executed"))
    )

    assert [e.seq for e in (first, second, third)] == [1, 2, 3]
    assert other.seq == 1
    assert second == proposal_event("prop-1", 7, "proposal.approved").model_copy(
        update={"seq": 2}
    )
    stream = await store.read(lambda uow: uow.proposals.events("prop-1"))
    assert stream == [first, second, third]
    assert [e.event_type for e in stream] == [
        "proposal.proposed", "proposal.approved", "proposal.executed",
    ]
    assert await store.read(lambda uow: uow.proposals.events("prop-2")) == [other]
    assert await store.read(lambda uow: uow.proposals.events("nope")) == []


async def test_lifecycle_numbering_restarts_after_a_rolled_back_job(store: Store) -> None:
    await store.write(lambda uow: uow.proposals.add_event(proposal_event("prop-1", 1)))

    def failing(uow: UnitOfWork) -> None:
        uow.proposals.add_event(proposal_event("prop-1", 1, "proposal.approved"))
        raise RuntimeError("executor failed")

    with pytest.raises(RuntimeError):
        await store.write(failing)
    added = await store.write(
        lambda uow: uow.proposals.add_event(proposal_event("prop-1", 1, "proposal.rejected"))
    )
    assert added.seq == 2
    stream = await store.read(lambda uow: uow.proposals.events("prop-1"))
    assert [(e.seq, e.event_type) for e in stream] == [
        (1, "proposal.proposed"), (2, "proposal.rejected"),
    ]


async def test_first_lifecycle_entries_are_numbered_from_one_in_one_write(store: Store) -> None:
    given = [proposal_event("prop-1", 7, "proposal.proposed"),
             proposal_event("prop-1", 0, "proposal.executed")]
    stored = await store.write(lambda uow: uow.proposals.add_first_events(given))

    assert stored == [e.model_copy(update={"seq": n}) for n, e in enumerate(given, 1)]
    assert await store.read(lambda uow: uow.proposals.events("prop-1")) == stored
    later = await store.write(
        lambda uow: uow.proposals.add_event(proposal_event("prop-1", 1, "proposal.expired")))
    assert later.seq == 3
    assert await store.write(lambda uow: uow.proposals.add_first_events([])) == []


async def test_first_lifecycle_entries_of_a_proposal_with_entries_are_refused_whole(
    store: Store,
) -> None:
    await store.write(lambda uow: uow.proposals.add_event(proposal_event("prop-1", 1)))

    def job(uow: UnitOfWork) -> list[ProposalEvent]:
        with pytest.raises(DuplicateRecord):
            uow.proposals.add_first_events([
                proposal_event("prop-1", 0, "proposal.approved"),
                proposal_event("prop-1", 0, "proposal.executed"),
            ])
        # Nothing of it was written, and the transaction goes on.
        return uow.proposals.events("prop-1")

    assert [e.event_type for e in await store.write(job)] == ["proposal.proposed"]
    assert [e.event_type for e in await store.read(
        lambda uow: uow.proposals.events("prop-1"))] == ["proposal.proposed"]


async def test_decisions_come_back_in_the_order_added(store: Store) -> None:
    submit = decision("prop-1", stage="submit", decided_at=at(1))
    execute = decision("prop-1", stage="execute", effect="allow", decided_at=at(0))

    def job(uow: UnitOfWork) -> None:
        uow.proposals.add_decision(submit)
        uow.proposals.add_decision(decision("prop-2"))
        uow.proposals.add_decision(execute)

    await store.write(job)
    assert await store.read(lambda uow: uow.proposals.decisions("prop-1")) == [submit, execute]
    assert await store.read(lambda uow: uow.proposals.decisions("nope")) == []


async def test_votes_come_back_in_the_order_cast(store: Store) -> None:
    bob, alice = vote("prop-1", "bob"), vote("prop-1", "alice")
    await store.write(lambda uow: uow.proposals.add_vote(bob))
    await store.write(lambda uow: uow.proposals.add_vote(vote("prop-2", "bob")))
    await store.write(lambda uow: uow.proposals.add_vote(alice))

    assert await store.read(lambda uow: uow.proposals.votes("prop-1")) == [bob, alice]
    assert await store.read(lambda uow: uow.proposals.votes("nope")) == []


async def test_the_same_voter_twice_raises_duplicate_vote(store: Store) -> None:
    first = vote("prop-1", "alice", vote_id="v1")
    await store.write(lambda uow: uow.proposals.add_vote(first))

    with pytest.raises(DuplicateVote, match="alice"):
        await store.write(lambda uow: uow.proposals.add_vote(vote("prop-1", "alice", vote_id="v2")))
    assert await store.read(lambda uow: uow.proposals.votes("prop-1")) == [first]


async def test_a_duplicate_vote_can_be_handled_inside_the_job(store: Store) -> None:
    def job(uow: UnitOfWork) -> str:
        uow.proposals.add_vote(vote("prop-1", "alice", vote_id="v1"))
        try:
            uow.proposals.add_vote(vote("prop-1", "alice", vote_id="v2"))
        except DuplicateVote:
            uow.proposals.add_vote(vote("prop-1", "bob", vote_id="v3"))
            return "handled"
        return "not raised"

    assert await store.write(job) == "handled"
    votes = await store.read(lambda uow: uow.proposals.votes("prop-1"))
    assert [v.vote_id for v in votes] == ["v1", "v3"]
