"""Proposals: current state, compare-and-set on status, and the queries over it."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from signoff.store.errors import DuplicateRecord
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import ProposalRecord

from .factories import OTHER_TENANT, TENANT, at, proposal

pytestmark = pytest.mark.anyio


async def add(store: Store, *proposals: ProposalRecord) -> None:
    def job(uow: UnitOfWork) -> None:
        for p in proposals:
            uow.proposals.add(p)

    await store.write(job)


def ids(proposals: list[ProposalRecord]) -> list[str]:
    return [p.proposal_id for p in proposals]


async def test_get_returns_the_record_as_added(store: Store) -> None:
    record = proposal(expires_at=at(60))
    await add(store, record)
    assert await store.read(lambda uow: uow.proposals.get("prop-1", TENANT)) == record
    assert await store.read(lambda uow: uow.proposals.get("nope", TENANT)) is None


async def test_get_is_scoped_by_tenant_and_none_is_operator_access(store: Store) -> None:
    await add(store, proposal("prop-1"), proposal("prop-2", tenant_id=OTHER_TENANT))

    assert await store.read(lambda uow: uow.proposals.get("prop-1", OTHER_TENANT)) is None
    assert await store.read(lambda uow: uow.proposals.get("prop-2", TENANT)) is None
    found = await store.read(lambda uow: uow.proposals.get("prop-2", None))
    assert found is not None
    assert found.tenant_id == OTHER_TENANT


async def test_a_duplicate_proposal_id_is_refused(store: Store) -> None:
    await add(store, proposal("prop-1"))
    with pytest.raises(DuplicateRecord):
        await add(store, proposal("prop-1", tenant_id=OTHER_TENANT))
    assert await store.read(lambda uow: uow.proposals.get("prop-1", None)) == proposal("prop-1")


async def test_replace_is_compare_and_set_on_status(store: Store) -> None:
    await add(store, proposal())
    approved = proposal(status="approved").model_copy(update={"updated_at": at(5)})
    executed = approved.model_copy(update={"status": "executed", "updated_at": at(6)})

    assert await store.write(
        lambda uow: uow.proposals.replace(approved, expected_status="pending_approval")
    ) is True
    # A second executor that still believes the proposal is pending loses.
    assert await store.write(
        lambda uow: uow.proposals.replace(executed, expected_status="pending_approval")
    ) is False
    assert await store.read(lambda uow: uow.proposals.get("prop-1", TENANT)) == approved
    assert await store.write(
        lambda uow: uow.proposals.replace(executed, expected_status="approved")
    ) is True
    assert await store.read(lambda uow: uow.proposals.get("prop-1", TENANT)) == executed


async def test_replace_of_an_unknown_proposal_is_false(store: Store) -> None:
    assert await store.write(
        lambda uow: uow.proposals.replace(proposal("ghost"), expected_status="pending_approval")
    ) is False
    assert await store.read(lambda uow: uow.proposals.get("ghost", None)) is None


async def test_replace_moves_the_proposal_between_filters(store: Store) -> None:
    await add(store, proposal(expires_at=at(10)))
    rejected = proposal(status="rejected", expires_at=at(10))
    assert await store.write(
        lambda uow: uow.proposals.replace(rejected, expected_status="pending_approval")
    )

    assert await store.read(lambda uow: uow.proposals.find(status="pending_approval")) == []
    assert ids(await store.read(lambda uow: uow.proposals.find(status="rejected"))) == ["prop-1"]
    assert await store.read(lambda uow: uow.proposals.due_for_expiry(at(20))) == []


async def test_find_filters_and_orders_by_created_at(store: Store) -> None:
    await add(
        store,
        proposal("p-late", created_at=at(30)),
        proposal("p-early", created_at=at(10)),
        proposal("p-b-tie", created_at=at(20)),
        proposal("p-a-tie", created_at=at(20)),
        proposal("p-approved", created_at=at(15), status="approved"),
        proposal("p-close", created_at=at(25), command_type="case.close"),
        proposal("p-other", created_at=at(5), tenant_id=OTHER_TENANT),
    )

    async def found(
        tenant_id: str | None = None, status: str | None = None,
        command_type: str | None = None, limit: int = 100,
    ) -> list[str]:
        return ids(await store.read(lambda uow: uow.proposals.find(
            tenant_id=tenant_id, status=status, command_type=command_type, limit=limit,
        )))

    assert await found(tenant_id=TENANT) == [
        "p-early", "p-approved", "p-a-tie", "p-b-tie", "p-close", "p-late",
    ]
    assert await found() == [
        "p-other", "p-early", "p-approved", "p-a-tie", "p-b-tie", "p-close", "p-late",
    ]
    assert await found(tenant_id=TENANT, status="approved") == ["p-approved"]
    assert await found(command_type="case.close") == ["p-close"]
    assert await found(tenant_id=OTHER_TENANT) == ["p-other"]
    assert await found(tenant_id=TENANT, status="pending_approval", limit=2) == [
        "p-early", "p-a-tie",
    ]
    assert await found(tenant_id=OTHER_TENANT, command_type="case.close") == []


async def test_due_for_expiry_is_pending_proposals_past_their_deadline(store: Store) -> None:
    await add(
        store,
        proposal("p-due-late", expires_at=at(20)),
        proposal("p-due-early", expires_at=at(5)),
        proposal("p-due-now", expires_at=at(30)),
        proposal("p-future", expires_at=at(31)),
        proposal("p-no-deadline", expires_at=None),
        proposal("p-approved", status="approved", expires_at=at(1)),
        proposal("p-other-tenant", tenant_id=OTHER_TENANT, expires_at=at(10)),
    )

    due = await store.read(lambda uow: uow.proposals.due_for_expiry(at(30)))
    assert ids(due) == ["p-due-early", "p-other-tenant", "p-due-late", "p-due-now"]
    first = await store.read(lambda uow: uow.proposals.due_for_expiry(at(30), limit=1))
    assert ids(first) == ["p-due-early"]
    assert await store.read(lambda uow: uow.proposals.due_for_expiry(at(4))) == []


MINUS_FIVE = timezone(timedelta(hours=-5))


async def test_due_for_expiry_compares_instants_across_utc_offsets(store: Store) -> None:
    # Expires 09:30Z; `now` is 10:00Z written as 05:00-05:00.
    await add(store, proposal("p1", expires_at=at(30)))
    now = at(60).astimezone(MINUS_FIVE)
    due = await store.read(lambda uow: uow.proposals.due_for_expiry(now))
    assert ids(due) == ["p1"]


async def test_by_correlation_is_the_trace_oldest_first(store: Store) -> None:
    await add(
        store,
        proposal("p-late", correlation_id="trace-1", created_at=at(20)),
        proposal("p-other", correlation_id="trace-2", created_at=at(0)),
        proposal("p-early", correlation_id="trace-1", created_at=at(10)),
        proposal("p-tenant", correlation_id="trace-1", created_at=at(15), tenant_id=OTHER_TENANT),
    )

    traced = await store.read(lambda uow: uow.proposals.by_correlation("trace-1"))
    assert ids(traced) == ["p-early", "p-tenant", "p-late"]
    first = await store.read(lambda uow: uow.proposals.by_correlation("trace-1", limit=1))
    assert ids(first) == ["p-early"]
    assert await store.read(lambda uow: uow.proposals.by_correlation("nope")) == []


async def test_decided_since_pages_through_proposals_with_their_first_decision(
    store: Store,
) -> None:
    # two share an instant: the id breaks the tie, so paging loses none
    made = [proposal(f"p{i}", created_at=at(min(i, 3))) for i in range(5)]

    def add(uow: UnitOfWork) -> None:
        for p in made:
            uow.proposals.add(p)
            uow.proposals.add_decision(p.decision)

    await store.write(add)
    first = await store.read(lambda uow: uow.proposals.decided_since(at(-60), limit=3))
    rest = await store.read(lambda uow: uow.proposals.decided_since(
        at(-60), after=first[-1][0].proposal_id, limit=3))
    seen = [p.proposal_id for p, _ in first + rest]
    assert sorted(seen) == sorted(p.proposal_id for p in made)
    assert len(set(seen)) == 5
    assert all(d.proposal_id == p.proposal_id for p, d in first + rest)
    assert await store.read(lambda uow: uow.proposals.decided_since(at(60))) == []


async def test_by_command_finds_a_proposal_within_its_tenant_only(store: Store) -> None:
    mine = proposal("p-mine")
    await store.write(lambda uow: uow.proposals.add(mine))
    found = await store.read(lambda uow: uow.proposals.by_command(mine.command_id, TENANT))
    assert found is not None
    assert found.proposal_id == "p-mine"
    assert await store.read(
        lambda uow: uow.proposals.by_command(mine.command_id, OTHER_TENANT)) is None
    assert await store.read(lambda uow: uow.proposals.by_command("cmd-none", TENANT)) is None
