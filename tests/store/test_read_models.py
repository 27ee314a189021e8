"""ReadModels: projection documents by projection, tenant and key, in generations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from signoff.store.errors import GenerationSuperseded
from signoff.store.ports import Store, UnitOfWork

from .factories import OTHER_TENANT, TENANT
from .tables import live_documents

pytestmark = pytest.mark.anyio

CASES = "cases"


def doc(key: str, **fields: Any) -> dict[str, Any]:
    return {"id": key, "title": f"Fall {key} — prüfen", "tags": ["a", "b"], **fields}


async def put(
    store: Store, key: str, document: dict[str, Any], *, tenant_id: str = TENANT,
    projection: str = CASES, index: str | None = None,
) -> None:
    await store.write(
        lambda uow: uow.read_models.writer(tenant_id, projection).put(key, document, index)
    )


async def get(
    store: Store, key: str, *, tenant_id: str = TENANT, projection: str = CASES
) -> dict[str, Any] | None:
    return await store.read(lambda uow: uow.read_models.get(tenant_id, projection, key))


async def test_put_get_and_the_writer_sees_its_own_documents(store: Store) -> None:
    def job(uow: UnitOfWork) -> dict[str, Any] | None:
        writer = uow.read_models.writer(TENANT, CASES)
        writer.put("case-1", doc("case-1", nested={"x": [1, None, True]}))
        return writer.get("case-1")

    assert await store.write(job) == doc("case-1", nested={"x": [1, None, True]})
    assert await get(store, "case-1") == doc("case-1", nested={"x": [1, None, True]})
    assert await get(store, "case-2") is None


async def test_put_overwrites_the_document_and_its_index(store: Store) -> None:
    await put(store, "case-1", doc("case-1", status="open"), index="open")
    await put(store, "case-1", doc("case-1", status="closed"), index="closed")

    assert await get(store, "case-1") == doc("case-1", status="closed")
    assert await store.read(lambda uow: uow.read_models.find(TENANT, CASES, index="open")) == []
    assert await store.read(lambda uow: uow.read_models.find(TENANT, CASES, index="closed")) == [
        doc("case-1", status="closed"),
    ]


async def test_documents_are_isolated_by_tenant(store: Store) -> None:
    await put(store, "case-1", doc("case-1", owner="acme"))
    await put(store, "case-1", doc("case-1", owner="globex"), tenant_id=OTHER_TENANT)
    await put(store, "case-2", doc("case-2"), tenant_id=OTHER_TENANT)

    assert await get(store, "case-1") == doc("case-1", owner="acme")
    assert await get(store, "case-1", tenant_id=OTHER_TENANT) == doc("case-1", owner="globex")
    assert await get(store, "case-2") is None
    assert await store.read(lambda uow: uow.read_models.find(TENANT, CASES)) == [
        doc("case-1", owner="acme"),
    ]

    await store.write(lambda uow: uow.read_models.writer(TENANT, CASES).delete("case-1"))
    assert await get(store, "case-1") is None
    assert await get(store, "case-1", tenant_id=OTHER_TENANT) == doc("case-1", owner="globex")
    # A writer of one tenant cannot reach another tenant's document either.
    assert await store.read(lambda uow: uow.read_models.writer(TENANT, CASES).get("case-2")) is None


async def test_documents_are_isolated_by_projection(store: Store) -> None:
    await put(store, "k", doc("k", kind="case"))
    await put(store, "k", doc("k", kind="notice"), projection="notices")

    assert await get(store, "k") == doc("k", kind="case")
    assert await get(store, "k", projection="notices") == doc("k", kind="notice")
    await store.write(lambda uow: uow.read_models.writer(TENANT, "notices").delete("k"))
    assert await get(store, "k") == doc("k", kind="case")


async def test_delete_of_a_missing_key_is_a_no_op(store: Store) -> None:
    await store.write(lambda uow: uow.read_models.writer(TENANT, CASES).delete("nope"))
    assert await store.read(lambda uow: uow.read_models.find(TENANT, CASES)) == []


async def test_many_at_once_reads_writes_and_deletes_exactly_the_keys_given(
    store: Store,
) -> None:
    # More keys than SQLite's default host-parameter limit of 999 (older builds).
    keys = [f"case-{n:04d}" for n in range(1500)]
    await put(store, "case-0000", doc("case-0000"), tenant_id=OTHER_TENANT)
    await put(store, "case-0001", doc("case-0001"), projection="notices")

    def fill(uow: UnitOfWork) -> None:
        writer = uow.read_models.writer(TENANT, CASES)
        writer.put_many([(key, doc(key), "open" if key < "case-0100" else None, None)
                         for key in keys])
        writer.put_many([("case-0001", doc("case-0001", status="closed"), "closed", None)])
        writer.put_many([])

    await store.write(fill)

    def read(uow: UnitOfWork) -> dict[str, dict[str, Any]]:
        return uow.read_models.writer(TENANT, CASES).get_many(
            [*keys, "absent", "case-0002"])

    found = await store.read(read)
    assert set(found) == set(keys)
    assert found["case-0001"] == doc("case-0001", status="closed")
    assert found["case-1499"] == doc("case-1499")
    open_now = await store.read(
        lambda uow: uow.read_models.find(TENANT, CASES, index="open", limit=1000))
    assert len(open_now) == 99  # case-0001 moved to "closed"

    def drop(uow: UnitOfWork) -> None:
        writer = uow.read_models.writer(TENANT, CASES)
        writer.delete_many(keys[1:])
        writer.delete_many(["absent"])

    await store.write(drop)
    assert await store.read(read) == {"case-0000": doc("case-0000")}
    assert await store.read(lambda uow: uow.read_models.writer(TENANT, CASES).get_many([])) == {}
    # Other tenants' and projections' documents under the same keys stay.
    assert await get(store, "case-0000", tenant_id=OTHER_TENANT) == doc("case-0000")
    assert await get(store, "case-0001", projection="notices") == doc("case-0001")


async def test_find_by_index_in_key_order_with_limit(store: Store) -> None:
    await put(store, "c-3", doc("c-3"), index="open")
    await put(store, "c-1", doc("c-1"), index="open")
    await put(store, "c-2", doc("c-2"), index="closed")
    await put(store, "c-4", doc("c-4"))
    await put(store, "c-0", doc("c-0"), index="open", tenant_id=OTHER_TENANT)

    def keys(docs: list[dict[str, Any]]) -> list[str]:
        return [d["id"] for d in docs]

    assert keys(await store.read(lambda uow: uow.read_models.find(TENANT, CASES))) == [
        "c-1", "c-2", "c-3", "c-4",
    ]
    assert keys(await store.read(lambda uow: uow.read_models.find(TENANT, CASES, limit=2))) == [
        "c-1", "c-2",
    ]
    assert keys(
        await store.read(lambda uow: uow.read_models.find(TENANT, CASES, index="open"))
    ) == ["c-1", "c-3"]
    assert keys(
        await store.read(lambda uow: uow.read_models.find(TENANT, CASES, index="open", limit=1))
    ) == ["c-1"]
    assert await store.read(lambda uow: uow.read_models.find(TENANT, CASES, index="none")) == []


async def test_a_new_generation_is_invisible_until_activated(store: Store) -> None:
    await put(store, "old-only", doc("old-only"), index="open")
    await put(store, "both", doc("both", gen="old"), index="open")
    await put(store, "both", doc("both", gen="old"), tenant_id=OTHER_TENANT)

    def rebuild(uow: UnitOfWork) -> int:
        generation = uow.read_models.begin_generation(CASES)
        writer = uow.read_models.writer(TENANT, CASES, generation)
        writer.put("both", doc("both", gen="new"), "open")
        writer.put("new-only", doc("new-only"), "open")
        assert writer.get("both") == doc("both", gen="new")
        return generation

    generation = await store.write(rebuild)

    assert await get(store, "both") == doc("both", gen="old")
    assert await get(store, "new-only") is None
    assert await store.read(lambda uow: uow.read_models.find(TENANT, CASES, index="open")) == [
        doc("both", gen="old"), doc("old-only"),
    ]
    assert [k for _, k, _ in await store.read(lambda uow: live_documents(uow, CASES))] == [
        "both", "old-only", "both",
    ]

    await store.write(lambda uow: uow.read_models.activate(CASES, generation))

    assert await get(store, "both") == doc("both", gen="new")
    assert await get(store, "new-only") == doc("new-only")
    assert await get(store, "old-only") is None
    assert await get(store, "both", tenant_id=OTHER_TENANT) is None
    assert await store.read(lambda uow: uow.read_models.find(TENANT, CASES, index="open")) == [
        doc("both", gen="new"), doc("new-only"),
    ]
    # A writer without a generation now writes into the live one.
    await put(store, "after", doc("after"))
    assert await get(store, "after") == doc("after")


async def test_activate_in_the_same_job_is_visible_to_that_job(store: Store) -> None:
    await put(store, "old", doc("old"))

    def rebuild(uow: UnitOfWork) -> list[dict[str, Any]]:
        generation = uow.read_models.begin_generation(CASES)
        uow.read_models.writer(TENANT, CASES, generation).put("new", doc("new"))
        uow.read_models.activate(CASES, generation)
        return uow.read_models.find(TENANT, CASES)

    assert await store.write(rebuild) == [doc("new")]


async def test_generations_increase_and_activate_drops_abandoned_ones(store: Store) -> None:
    first = await store.write(lambda uow: uow.read_models.begin_generation(CASES))
    await store.write(
        lambda uow: uow.read_models.writer(TENANT, CASES, first).put("abandoned", doc("a"))
    )
    second = await store.write(lambda uow: uow.read_models.begin_generation(CASES))
    assert second > first
    await store.write(
        lambda uow: uow.read_models.writer(TENANT, CASES, second).put("kept", doc("k"))
    )
    await store.write(lambda uow: uow.read_models.activate(CASES, second))

    def leftovers(uow: UnitOfWork) -> dict[str, Any] | None:
        return uow.read_models.writer(TENANT, CASES, first).get("abandoned")

    assert await store.read(leftovers) is None
    assert await store.read(lambda uow: live_documents(uow, CASES)) == [(TENANT, "kept", doc("k"))]
    assert await store.write(lambda uow: uow.read_models.begin_generation(CASES)) > second


async def test_a_superseded_generation_is_never_activated_and_deletes_nothing(
    store: Store,
) -> None:
    """Two rebuilds at once: the one that began first must not swap in its
    generation, nor drop the documents the newer one is filling."""
    await put(store, "live", doc("live"))
    older = await store.write(lambda uow: uow.read_models.begin_generation(CASES))
    await store.write(
        lambda uow: uow.read_models.writer(TENANT, CASES, older).put("older", doc("older")))
    newer = await store.write(lambda uow: uow.read_models.begin_generation(CASES))
    await store.write(
        lambda uow: uow.read_models.writer(TENANT, CASES, newer).put("newer", doc("newer")))

    def activate_older(check_only: bool) -> Callable[[UnitOfWork], None]:
        return lambda uow: uow.read_models.activate(CASES, older, check_only=check_only)

    for check_only in (True, False):
        with pytest.raises(GenerationSuperseded, match=f"generation {older}"):
            await store.write(activate_older(check_only))
    assert await store.read(lambda uow: live_documents(uow, CASES)) == [
        (TENANT, "live", doc("live"))]
    assert await store.read(
        lambda uow: uow.read_models.writer(TENANT, CASES, newer).get("newer")) == doc("newer")

    # The newest passes the check without anything changing, then goes live.
    await store.write(lambda uow: uow.read_models.activate(CASES, newer, check_only=True))
    assert await get(store, "live") == doc("live")
    await store.write(lambda uow: uow.read_models.activate(CASES, newer))
    assert await store.read(lambda uow: live_documents(uow, CASES)) == [
        (TENANT, "newer", doc("newer"))]
    assert await store.read(
        lambda uow: uow.read_models.writer(TENANT, CASES, older).get("older")) is None
    with pytest.raises(GenerationSuperseded):  # never begun
        await store.write(lambda uow: uow.read_models.activate("other", 1))


async def test_generations_are_per_projection(store: Store) -> None:
    await put(store, "n", doc("n"), projection="notices")

    def rebuild_cases(uow: UnitOfWork) -> None:
        generation = uow.read_models.begin_generation(CASES)
        uow.read_models.writer(TENANT, CASES, generation).put("c", doc("c"))
        uow.read_models.activate(CASES, generation)

    await store.write(rebuild_cases)
    assert await get(store, "n", projection="notices") == doc("n")
    assert await get(store, "c") == doc("c")


async def test_live_documents_are_the_live_generation_by_tenant_and_key(store: Store) -> None:
    await put(store, "b", doc("b"), tenant_id=OTHER_TENANT)
    await put(store, "z", doc("z"))
    await put(store, "a", doc("a"), tenant_id=OTHER_TENANT)
    await put(store, "m", doc("m"))
    await put(store, "x", doc("x"), projection="notices")

    assert await store.read(lambda uow: live_documents(uow, CASES)) == [
        (TENANT, "m", doc("m")), (TENANT, "z", doc("z")),
        (OTHER_TENANT, "a", doc("a")), (OTHER_TENANT, "b", doc("b")),
    ]
    assert await store.read(lambda uow: live_documents(uow, "empty")) == []
