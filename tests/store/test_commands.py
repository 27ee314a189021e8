"""Idempotency keys, kept on the proposals they name, and the rule that a
final proposal (its command's result) never changes."""

from __future__ import annotations

import pytest

from signoff.store.errors import DuplicateRecord, StoreError
from signoff.store.ports import Store, UnitOfWork

from .factories import OTHER_TENANT, TENANT, proposal

pytestmark = pytest.mark.anyio


async def test_a_key_is_unknown_until_its_proposal_is_recorded(store: Store) -> None:
    lookup = await store.read(lambda uow: uow.proposals.by_idempotency_key(
        TENANT, "agent-1", "key-1"))
    assert lookup is None

    made = proposal("prop-7", idempotency_key="key-1")
    await store.write(lambda uow: uow.proposals.add(made))
    found = await store.read(lambda uow: uow.proposals.by_idempotency_key(
        TENANT, "agent-1", "key-1"))
    assert found == made


async def test_a_key_is_scoped_by_tenant_and_principal(store: Store) -> None:
    def job(uow: UnitOfWork) -> None:
        uow.proposals.add(proposal("p-a", idempotency_key="key-1"))
        uow.proposals.add(proposal("p-b", actor_id="agent-2", idempotency_key="key-1"))
        uow.proposals.add(proposal("p-c", tenant_id=OTHER_TENANT, idempotency_key="key-1"))

    await store.write(job)

    def lookups(uow: UnitOfWork) -> list[str | None]:
        keys = [
            (TENANT, "agent-1", "key-1"), (TENANT, "agent-2", "key-1"),
            (OTHER_TENANT, "agent-1", "key-1"), (OTHER_TENANT, "agent-2", "key-1"),
            (TENANT, "agent-1", "key-2"),
        ]
        found = [uow.proposals.by_idempotency_key(*k) for k in keys]
        return [r.proposal_id if r else None for r in found]

    assert await store.read(lookups) == ["p-a", "p-b", "p-c", None, None]


async def test_a_key_cannot_name_a_second_proposal(store: Store) -> None:
    await store.write(lambda uow: uow.proposals.add(proposal("p-1", idempotency_key="key-1")))

    with pytest.raises(DuplicateRecord) as caught:
        await store.write(
            lambda uow: uow.proposals.add(proposal("p-2", idempotency_key="key-1")))
    assert "idempotency_key" in caught.value.key
    found = await store.read(lambda uow: uow.proposals.by_idempotency_key(
        TENANT, "agent-1", "key-1"))
    assert found is not None
    assert found.proposal_id == "p-1"
    assert await store.read(lambda uow: uow.proposals.get("p-2", None)) is None


async def test_a_final_proposal_never_changes(store: Store) -> None:
    done = proposal("p-1", status="executed")
    await store.write(lambda uow: uow.proposals.add(done))
    moved = done.model_copy(update={"status": "failed", "status_reason": "rewritten"})

    with pytest.raises(StoreError, match="final proposal never changes"):
        await store.write(lambda uow: uow.proposals.replace(moved, expected_status="executed"))
    assert await store.read(lambda uow: uow.proposals.get("p-1", None)) == done


async def test_a_proposal_that_is_not_final_moves_on(store: Store) -> None:
    waiting = proposal("p-1", status="pending_approval")
    await store.write(lambda uow: uow.proposals.add(waiting))
    moved = waiting.model_copy(update={"status": "approved"})

    assert await store.write(
        lambda uow: uow.proposals.replace(moved, expected_status="pending_approval"))
    assert await store.read(lambda uow: uow.proposals.get("p-1", None)) == moved
