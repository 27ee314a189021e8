"""ReadModels.search: full-text search over a projection's documents, by the
search text each put gives them, on every adapter."""

from __future__ import annotations

from typing import Any

import pytest

from signoff.store.ports import Store, UnitOfWork
from signoff.store.postgres.unit_of_work import PostgresUnitOfWork

from .factories import OTHER_TENANT, TENANT
from .tables import rows

pytestmark = pytest.mark.anyio

NOTES = "notes"
Hits = list[tuple[str, dict[str, Any], float]]


def note(key: str) -> dict[str, Any]:
    return {"id": key}


async def put(
    store: Store, key: str, text: str | None, *, tenant_id: str = TENANT,
    projection: str = NOTES,
) -> None:
    await store.write(lambda uow: uow.read_models.writer(tenant_id, projection).put(
        key, note(key), text=text))


async def search(
    store: Store, query: str, *, tenant_id: str = TENANT, projection: str = NOTES,
    limit: int = 10,
) -> Hits:
    return await store.read(
        lambda uow: uow.read_models.search(tenant_id, projection, query, limit))


async def keys(store: Store, query: str, **kw: Any) -> list[str]:
    return [key for key, _, _ in await search(store, query, **kw)]


async def test_the_better_match_comes_first_and_others_not_at_all(store: Store) -> None:
    await put(store, "both", "The falcon heavy lifts off at dawn")
    await put(store, "one", "A falcon circles over the valley at dawn")
    await put(store, "repeats", "heavy heavy heavy rain all week, roads flooded and heavy traffic")
    await put(store, "none", "Nothing to see here")
    await put(store, "textless", None)

    hits = await search(store, "Falcon HEAVY")

    assert hits[0][0] == "both"
    assert {key for key, _, _ in hits} == {"both", "one", "repeats"}
    scores = [score for _, _, score in hits]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[-1]
    assert hits[0][1] == note("both")


async def test_words_of_any_script_whatever_their_case(store: Store) -> None:
    await put(store, "de", "Prüfbericht für die Größenänderung")
    await put(store, "ja", "会議 メモ")
    await put(store, "gr", "Σημείωση για τον πελάτη")

    assert await keys(store, "PRÜFBERICHT") == ["de"]
    assert await keys(store, "メモ") == ["ja"]
    assert await keys(store, "σημείωση") == ["gr"]


async def test_search_is_scoped_to_the_tenant_and_the_projection(store: Store) -> None:
    await put(store, "mine", "quarterly budget review")
    await put(store, "theirs", "quarterly budget review", tenant_id=OTHER_TENANT)
    await put(store, "elsewhere", "quarterly budget review", projection="other")

    assert await keys(store, "budget") == ["mine"]
    assert await keys(store, "budget", tenant_id=OTHER_TENANT) == ["theirs"]
    assert await keys(store, "budget", projection="other") == ["elsewhere"]
    assert await keys(store, "budget", projection="absent") == []


async def test_a_put_replaces_the_text_and_none_or_delete_removes_it(store: Store) -> None:
    await put(store, "n-1", "apples and pears")
    await put(store, "n-1", "plums only")
    assert await keys(store, "apples") == []
    assert await keys(store, "plums") == ["n-1"]

    await put(store, "n-1", None)
    assert await keys(store, "plums") == []

    await put(store, "n-1", "cherries")
    await put(store, "n-2", "cherries too")
    await store.write(lambda uow: uow.read_models.writer(TENANT, NOTES).delete("n-1"))
    assert await keys(store, "cherries") == ["n-2"]


async def test_put_many_and_delete_many_keep_the_texts(store: Store) -> None:
    def fill(uow: UnitOfWork) -> None:
        writer = uow.read_models.writer(TENANT, NOTES)
        writer.put_many([(f"n-{i}", note(f"n-{i}"), None, f"shared word{i}") for i in range(5)])
        writer.put_many([("n-0", note("n-0"), None, "replaced")])

    await store.write(fill)
    assert sorted(await keys(store, "shared")) == ["n-1", "n-2", "n-3", "n-4"]
    assert await keys(store, "replaced") == ["n-0"]
    assert await keys(store, "word3") == ["n-3"]

    await store.write(
        lambda uow: uow.read_models.writer(TENANT, NOTES).delete_many(["n-1", "n-2"]))
    assert sorted(await keys(store, "shared")) == ["n-3", "n-4"]


async def test_the_limit_is_respected(store: Store) -> None:
    def fill(uow: UnitOfWork) -> None:
        writer = uow.read_models.writer(TENANT, NOTES)
        writer.put_many([(f"n-{i:02d}", note(f"n-{i:02d}"), None, "common") for i in range(30)])

    await store.write(fill)
    assert len(await search(store, "common")) == 10
    assert len(await search(store, "common", limit=3)) == 3
    assert len(await search(store, "common", limit=100)) == 30
    assert await search(store, "common", limit=0) == []


def _indexed(uow: UnitOfWork, word: str) -> int:
    """How many rows the adapter's full-text index finds `word` in, across
    every projection, tenant and generation."""
    if isinstance(uow, PostgresUnitOfWork):
        found = rows(uow, "SELECT count(*) FROM read_models "
                     "WHERE search_vector @@ to_tsquery('simple', ?)", word)
    else:
        found = rows(uow, "SELECT count(*) FROM read_models_search "
                     "WHERE read_models_search MATCH ?", word)
    return int(found[0][0])


async def test_a_rebuilds_texts_are_searched_once_its_generation_is_active(
    store: Store,
) -> None:
    await put(store, "old", "stale draft")
    await put(store, "kept", "stale but kept")

    def rebuild(uow: UnitOfWork) -> int:
        generation = uow.read_models.begin_generation(NOTES)
        writer = uow.read_models.writer(TENANT, NOTES, generation)
        writer.put("kept", note("kept"), text="fresh and kept")
        writer.put_many([("new", note("new"), None, "fresh arrival")])
        return generation

    generation = await store.write(rebuild)
    assert sorted(await keys(store, "stale")) == ["kept", "old"]
    assert await keys(store, "fresh") == []

    await store.write(lambda uow: uow.read_models.activate(NOTES, generation))

    assert sorted(await keys(store, "fresh")) == ["kept", "new"]
    assert await keys(store, "stale") == []
    assert await keys(store, "draft") == []
    # The dropped generation's texts left the index with its documents.
    assert await store.read(lambda uow: _indexed(uow, "stale")) == 0
    assert await store.read(lambda uow: _indexed(uow, "fresh")) == 2


async def test_an_abandoned_generations_texts_go_when_a_later_one_is_activated(
    store: Store,
) -> None:
    first = await store.write(lambda uow: uow.read_models.begin_generation(NOTES))
    await store.write(lambda uow: uow.read_models.writer(TENANT, NOTES, first).put(
        "crashed", note("crashed"), text="halfway rebuilt"))
    assert await store.read(lambda uow: _indexed(uow, "halfway")) == 1

    second = await store.write(lambda uow: uow.read_models.begin_generation(NOTES))
    await store.write(lambda uow: uow.read_models.activate(NOTES, second))
    assert await store.read(lambda uow: _indexed(uow, "halfway")) == 0
    assert await keys(store, "halfway") == []


# (query, whether the document "falcon heavy" must be found by it)
HOSTILE: list[tuple[str, bool]] = [
    ('falcon"', True), ('"falcon', True), ('""', False), ("'", False),
    ("falcon AND NOT", True), ("falcon OR", True), ("NEAR(falcon heavy)", True),
    ("falcon*", True), ("^falcon", True), ("title:falcon", True), ("-falcon", True),
    ("falcon & !heavy | (", True), ("falcon:*", True), ("falcon <-> heavy", True),
    ("{falcon} + col : x", True), ("a\\b", False), ("\\", False),
    ("'; DROP TABLE read_models; --", False), ("%s %(x)s ? $1", False),
    ("falcon\x00heavy", True), ("falcon \ud800 heavy", True), ("😀 falcon", True),
    ("ﬁ falcon", True), ("x" * 5000, False), ("/etc/o'neil\\x.conf", False),
    ("http://example.com/a'b\\c?d=e&f=g falcon", True),
    (" ".join(f"w{i}" for i in range(500)) + " falcon", False),
]


@pytest.mark.parametrize(("query", "finds"), HOSTILE, ids=range(len(HOSTILE)))
async def test_query_syntax_is_only_words(store: Store, query: str, finds: bool) -> None:
    await put(store, "f", "falcon heavy")
    await put(store, "other", "and not or near title")

    found = await keys(store, query)

    assert set(found) <= {"f", "other"}
    assert ("f" in found) == finds


@pytest.mark.parametrize("query", ["", "   ", "\n\t", "!!! ??? ...", "\"' * ^ : ( )"])
async def test_a_query_without_words_finds_nothing(store: Store, query: str) -> None:
    await put(store, "f", "falcon heavy")
    assert await search(store, query) == []


async def test_operators_are_searched_as_the_words_they_are(store: Store) -> None:
    await put(store, "ops", "near or not")
    await put(store, "f", "falcon")
    assert await keys(store, "NOT") == ["ops"]
    assert sorted(await keys(store, "falcon OR near")) == ["f", "ops"]
