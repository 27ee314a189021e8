"""Commands: idempotency records and command results."""

from __future__ import annotations

import pytest

from signoff.store.errors import DuplicateRecord
from signoff.store.ports import Store, UnitOfWork

from .factories import OTHER_TENANT, TENANT, command_result, idempotency

pytestmark = pytest.mark.anyio


async def test_idempotency_is_unknown_until_remembered(store: Store) -> None:
    record = idempotency("key-1", proposal_id="prop-7")
    lookup = await store.read(lambda uow: uow.commands.idempotency(TENANT, "agent-1", "key-1"))
    assert lookup is None

    await store.write(lambda uow: uow.commands.remember(record))
    found = await store.read(lambda uow: uow.commands.idempotency(TENANT, "agent-1", "key-1"))
    assert found == record


async def test_idempotency_is_scoped_by_tenant_and_actor(store: Store) -> None:
    def job(uow: UnitOfWork) -> None:
        uow.commands.remember(idempotency("key-1", proposal_id="p-a"))
        uow.commands.remember(idempotency("key-1", actor_id="agent-2", proposal_id="p-b"))
        uow.commands.remember(idempotency("key-1", tenant_id=OTHER_TENANT, proposal_id="p-c"))

    await store.write(job)

    def lookups(uow: UnitOfWork) -> list[str | None]:
        keys = [
            (TENANT, "agent-1", "key-1"), (TENANT, "agent-2", "key-1"),
            (OTHER_TENANT, "agent-1", "key-1"), (OTHER_TENANT, "agent-2", "key-1"),
            (TENANT, "agent-1", "key-2"),
        ]
        found = [uow.commands.idempotency(*k) for k in keys]
        return [r.proposal_id if r else None for r in found]

    assert await store.read(lookups) == ["p-a", "p-b", "p-c", None, None]


async def test_a_remembered_key_cannot_be_remembered_again(store: Store) -> None:
    await store.write(lambda uow: uow.commands.remember(idempotency("key-1", proposal_id="p-1")))

    with pytest.raises(DuplicateRecord):
        await store.write(
            lambda uow: uow.commands.remember(idempotency("key-1", proposal_id="p-2"))
        )
    found = await store.read(lambda uow: uow.commands.idempotency(TENANT, "agent-1", "key-1"))
    assert found is not None
    assert found.proposal_id == "p-1"


async def test_results_come_back_in_the_order_recorded(store: Store) -> None:
    first = command_result("prop-1", "cmd-1", status="approved", message="waiting")
    second = command_result("prop-1", "cmd-2", status="executed", message="done")

    await store.write(lambda uow: uow.commands.add_result(first))
    await store.write(lambda uow: uow.commands.add_result(command_result("prop-2", "cmd-3")))
    await store.write(lambda uow: uow.commands.add_result(second))

    assert await store.read(lambda uow: uow.commands.results("prop-1")) == [first, second]
    assert await store.read(lambda uow: uow.commands.results("nope")) == []
