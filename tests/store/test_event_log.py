"""EventLog: append-only, hash-chained, globally ordered committed events."""

from __future__ import annotations

import itertools
from datetime import timedelta, timezone
from typing import Any

import pytest

from signoff.store.canonical import event_hash
from signoff.store.errors import VersionConflict
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import EventEnvelope

from .factories import OTHER_TENANT, T0, TENANT, chain_breaks, event

pytestmark = pytest.mark.anyio


async def append(store: Store, *events: EventEnvelope) -> list[EventEnvelope]:
    return await store.write(lambda uow: uow.events.append(list(events)))


async def whole_log(store: Store) -> list[EventEnvelope]:
    return await store.read(lambda uow: uow.events.read_after(0, 10_000))


async def test_append_stamps_consecutive_positions_across_aggregates_and_tenants(
    store: Store,
) -> None:
    first = await append(store, event("case-1", 1), event("case-2", 1))
    second = await append(store, event("case-1", 1, tenant_id=OTHER_TENANT))
    third = await append(store, event("case-1", 2), event("notice-1", 1, aggregate_type="notice"))

    assert [e.position for e in first + second + third] == [1, 2, 3, 4, 5]
    assert [e.position for e in await whole_log(store)] == [1, 2, 3, 4, 5]
    assert await store.read(lambda uow: uow.events.head()) == 5


async def test_append_overwrites_caller_supplied_position_and_hashes(store: Store) -> None:
    forged = event().model_copy(update={"position": 99, "prev_hash": "f" * 64, "hash": "x"})
    [stamped] = await append(store, forged)
    assert (stamped.position, stamped.prev_hash) == (1, "")
    assert stamped.hash == event_hash(stamped)


async def test_hash_chain_links_each_event_to_its_predecessor(store: Store) -> None:
    returned = await append(store, event("case-1", 1), event("case-1", 2))
    returned += await append(store, event("case-2", 1, tenant_id=OTHER_TENANT))
    returned += await append(store, event("case-1", 3))

    assert returned[0].prev_hash == ""
    for before, after in itertools.pairwise(returned):
        assert after.prev_hash == before.hash
    assert all(e.hash == event_hash(e) for e in returned)
    stored = await whole_log(store)
    assert stored == returned
    assert chain_breaks(stored) == []


async def test_a_hash_covers_the_content(store: Store) -> None:
    [stamped] = await append(store, event(payload={"amount": 10}))
    edited = stamped.model_copy(update={"payload": {"amount": 11}})
    assert event_hash(edited) != stamped.hash
    assert chain_breaks([edited]) != []


async def test_stream_is_one_aggregate_in_version_order(store: Store) -> None:
    await append(store, event("case-1", 1), event("case-2", 1))
    await append(store, event("case-1", 1, tenant_id=OTHER_TENANT))
    await append(store, event("case-1", 1, aggregate_type="notice"))
    await append(store, event("case-1", 2), event("case-1", 3))

    stream = await store.read(lambda uow: uow.events.stream(TENANT, "case", "case-1"))
    assert [(e.aggregate_version, e.position) for e in stream] == [(1, 1), (2, 5), (3, 6)]
    assert {(e.tenant_id, e.aggregate_type, e.aggregate_id) for e in stream} == {
        (TENANT, "case", "case-1")
    }
    assert await store.read(lambda uow: uow.events.stream(TENANT, "case", "nope")) == []


async def test_version_is_the_highest_committed_version_or_zero(store: Store) -> None:
    await append(store, event("case-1", 1), event("case-1", 2))
    await append(store, event("case-1", 7, tenant_id=OTHER_TENANT))

    def versions(uow: UnitOfWork) -> tuple[int, int, int, int]:
        return (
            uow.events.version(TENANT, "case", "case-1"),
            uow.events.version(OTHER_TENANT, "case", "case-1"),
            uow.events.version(TENANT, "notice", "case-1"),
            uow.events.version(TENANT, "case", "unknown"),
        )

    assert await store.read(versions) == (2, 7, 0, 0)


async def test_recent_is_the_last_events_oldest_first(store: Store) -> None:
    await append(store, *(event("case-1", v) for v in range(1, 6)))
    await append(store, event("case-1", 6, tenant_id=OTHER_TENANT))

    recent = await store.read(lambda uow: uow.events.recent(TENANT, "case", "case-1", 3))
    assert [e.aggregate_version for e in recent] == [3, 4, 5]
    everything = await store.read(lambda uow: uow.events.recent(TENANT, "case", "case-1", 50))
    assert [e.aggregate_version for e in everything] == [1, 2, 3, 4, 5]


async def test_read_after_pages_through_the_global_order(store: Store) -> None:
    await append(store, *(event(f"case-{i}", 1) for i in range(1, 8)))

    page = await store.read(lambda uow: uow.events.read_after(2, 3))
    assert [e.position for e in page] == [3, 4, 5]
    rest = await store.read(lambda uow: uow.events.read_after(5, 100))
    assert [e.position for e in rest] == [6, 7]
    assert await store.read(lambda uow: uow.events.read_after(7, 100)) == []


async def test_read_after_with_aggregate_id_filters_one_aggregate(store: Store) -> None:
    await append(store, event("case-1", 1), event("case-2", 1), event("case-1", 2))
    await append(store, event("case-2", 2), event("case-1", 3))

    mine = await store.read(lambda uow: uow.events.read_after(0, 100, aggregate_id="case-1"))
    assert [e.position for e in mine] == [1, 3, 5]
    after = await store.read(lambda uow: uow.events.read_after(1, 1, aggregate_id="case-1"))
    assert [e.position for e in after] == [3]


async def test_appending_nothing_changes_nothing(store: Store) -> None:
    [first] = await append(store, event("case-1", 1))
    assert await append(store) == []
    [second] = await append(store, event("case-1", 2))
    assert (second.position, second.prev_hash) == (2, first.hash)


async def test_head_is_zero_on_an_empty_log(store: Store) -> None:
    assert await store.read(lambda uow: uow.events.head()) == 0
    assert await store.read(lambda uow: uow.events.read_after(0, 10)) == []


async def test_by_ids_returns_the_known_ids_in_position_order(store: Store) -> None:
    stamped = await append(store, event("case-1", 1), event("case-2", 1), event("case-3", 1))
    ids = [stamped[2].event_id, "missing", stamped[0].event_id]

    found = await store.read(lambda uow: uow.events.by_ids(ids))
    assert found == [stamped[0], stamped[2]]
    assert await store.read(lambda uow: uow.events.by_ids([])) == []


async def test_a_taken_version_raises_version_conflict(store: Store) -> None:
    await append(store, event("case-1", 1), event("case-1", 2))

    with pytest.raises(VersionConflict) as caught:
        await append(store, event("case-1", 2, event_id="late"))
    assert (caught.value.aggregate_id, caught.value.version) == ("case-1", 2)
    assert await store.read(lambda uow: uow.events.head()) == 2


async def test_the_same_version_elsewhere_is_not_a_conflict(store: Store) -> None:
    await append(store, event("case-1", 1))
    await append(store, event("case-1", 1, tenant_id=OTHER_TENANT))
    await append(store, event("case-1", 1, aggregate_type="notice"))
    await append(store, event("case-2", 1))
    assert await store.read(lambda uow: uow.events.head()) == 4


async def test_a_conflicting_append_rolls_the_whole_job_back(store: Store) -> None:
    await append(store, event("case-1", 1))

    def job(uow: UnitOfWork) -> None:
        uow.events.append([event("case-2", 1)])
        uow.events.append([event("case-1", 1, event_id="dup")])

    with pytest.raises(VersionConflict):
        await store.write(job)
    assert await store.read(lambda uow: uow.events.version(TENANT, "case", "case-2")) == 0
    assert [e.position for e in await whole_log(store)] == [1]
    # The chain goes on from the last committed event, not the rolled-back one.
    await append(store, event("case-3", 1))
    assert chain_breaks(await whole_log(store)) == []


async def test_a_conflicting_append_appends_none_of_its_events(store: Store) -> None:
    """A job may catch VersionConflict (to record a `conflict` outcome in the
    same transaction); the append that raised must then have written nothing."""
    await append(store, event("case-1", 2))

    def job(uow: UnitOfWork) -> str:
        try:
            uow.events.append([event("case-1", 1), event("case-1", 2, event_id="dup")])
        except VersionConflict:
            return "conflict"
        return "appended"

    assert await store.write(job) == "conflict"
    stream = await store.read(lambda uow: uow.events.stream(TENANT, "case", "case-1"))
    assert [e.aggregate_version for e in stream] == [2]


async def test_version_conflict_names_the_version_that_was_taken(store: Store) -> None:
    await append(store, event("case-1", 1), event("case-1", 2))

    with pytest.raises(VersionConflict) as caught:
        await append(store, event("case-2", 1), event("case-1", 2, event_id="dup"))
    assert (caught.value.aggregate_id, caught.value.version) == ("case-1", 2)


PAYLOADS: dict[str, dict[str, Any]] = {
    "unicode": {"name": "Zoë Ørsted", "note": "期限を過ぎた ✓ 🚨", "rtl": "مرحبا", "": "empty key"},
    "nested": {"a": {"b": {"c": [1, [2, [3, {"d": None}]], {"e": True}]}}, "f": []},
    "numbers": {"big": 2**63 + 1, "neg": -7, "float": 0.1 + 0.2, "tiny": 1e-300, "zero": 0.0},
    "escapes": {"quote": 'say "hi"', "backslash": "C:\\cases\\1", "ctrl": "tab\tnl\nnul\x00"},
    "empty": {},
}


@pytest.mark.parametrize("name", list(PAYLOADS))
async def test_payload_round_trips_exactly(store: Store, name: str) -> None:
    payload = PAYLOADS[name]
    [stamped] = await append(store, event(payload=payload))

    [stored] = await store.read(lambda uow: uow.events.stream(TENANT, "case", "case-1"))
    assert stored.payload == payload
    assert stored == stamped
    assert event_hash(stored) == stored.hash


async def test_occurred_at_round_trips_with_its_offset(store: Store) -> None:
    when = (T0 + timedelta(microseconds=123)).astimezone(timezone(timedelta(hours=-5)))
    [stamped] = await append(store, event(occurred_at=when))

    [stored] = await store.read(lambda uow: uow.events.by_ids([stamped.event_id]))
    assert stored.occurred_at == when
    assert stored.occurred_at.utcoffset() == timedelta(hours=-5)
    assert event_hash(stored) == stored.hash
