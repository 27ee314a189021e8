"""RuntimeLog: one entry per tool call, found by run, correlation or proposal."""

from __future__ import annotations

import pytest

from signoff.store.ports import Store
from signoff.store.records import RuntimeEntry

from .factories import runtime_entry

pytestmark = pytest.mark.anyio

ENTRIES = [
    runtime_entry("e-1", run_id="run-1", correlation_id="c-1"),
    runtime_entry("e-2", run_id="run-2", correlation_id="c-2", proposal_id="p-1"),
    runtime_entry("e-3", run_id="run-1", correlation_id="c-3", proposal_id="p-1"),
    runtime_entry("e-4"),
    runtime_entry("e-5", run_id="run-1", correlation_id="c-1"),
]


def ids(entries: list[RuntimeEntry]) -> list[str]:
    return [e.entry_id for e in entries]


async def test_appended_entries_round_trip(store: Store) -> None:
    await store.write(lambda uow: uow.runtime.append(ENTRIES[:3]))
    await store.write(lambda uow: uow.runtime.append(ENTRIES[3:]))
    assert await store.read(lambda uow: uow.runtime.find()) == ENTRIES


async def test_find_by_run_correlation_or_proposal_in_append_order(store: Store) -> None:
    await store.write(lambda uow: uow.runtime.append(ENTRIES))

    assert ids(await store.read(lambda uow: uow.runtime.find(run_id="run-1"))) == [
        "e-1", "e-3", "e-5",
    ]
    assert ids(await store.read(lambda uow: uow.runtime.find(correlation_id="c-1"))) == [
        "e-1", "e-5",
    ]
    assert ids(await store.read(lambda uow: uow.runtime.find(proposal_id="p-1"))) == [
        "e-2", "e-3",
    ]
    assert ids(await store.read(lambda uow: uow.runtime.find(run_id="run-1", limit=2))) == [
        "e-1", "e-3",
    ]
    assert await store.read(lambda uow: uow.runtime.find(run_id="run-9")) == []
