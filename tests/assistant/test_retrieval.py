"""Only committed memory is ever retrieved: a write waiting for the owner,
or refused, is a proposal without an event, so no query can find it; an
approved one is found at once; a forgotten one is gone. build_context keeps
to its budget by the tokenizer's count and cites only what exists; the
search index follows `projections rebuild`. On both adapters: SQLite's
FTS5 and PostgreSQL's tsvector search must tell the same story."""

from __future__ import annotations

from typing import Any

import pytest

from signoff.examples.assistant.projections import MEMORY_VIEW, PASSAGES
from signoff.examples.assistant.tokens import count_tokens
from signoff.server.app import App
from signoff.server.state.rebuild import rebuild_projections
from signoff.store.ports import UnitOfWork
from tests.assistant.conftest import TENANT, propose, who
from tests.databases import both_adapters

pytestmark = [pytest.mark.anyio, both_adapters]


async def stored(app: App, projection: str, key: str) -> bool:
    def get(uow: UnitOfWork) -> dict[str, Any] | None:
        return uow.read_models.get(TENANT, projection, key)

    return await app.store.read(get) is not None


async def search(app: App, query: str) -> dict[str, Any]:
    result = await app.queries.run(who(app, "agent:assistant"), "search_memory",
                                   {"query": query, "limit": 20})
    return result.model_dump()


async def context(app: App, question: str, budget: int = 400) -> dict[str, Any]:
    result = await app.queries.run(who(app, "agent:assistant"), "build_context",
                                   {"question": question, "budget_tokens": budget})
    return result.model_dump()


async def test_pending_and_refused_writes_are_never_retrieved(app: App) -> None:
    waiting = await propose(app, "memory.save", text="Dana is allergic to peanuts",
                            kind="person_fact", subject="person:dana")
    refused = await propose(app, "memory.save", text="the alarm password is 4417peanuts")
    assert (waiting.status, refused.status) == ("pending_approval", "rejected")
    for query in ("peanuts", "Dana allergic", "alarm password 4417peanuts"):
        assert (await search(app, query))["hits"] == []
        block = await context(app, query)
        assert "peanuts" not in block["context"]
        assert "4417" not in block["context"]

    assert waiting.proposal_id is not None
    await app.approvals.approve(who(app, "user:sam"), waiting.proposal_id, digest=None,
                                channel="cli")
    [hit] = (await search(app, "peanuts"))["hits"]
    assert (hit["memory_id"], hit["text"]) == (waiting.aggregate_id, "Dana is allergic to "
                                               "peanuts")
    block = await context(app, "what is Dana allergic to?")
    assert f"[{waiting.aggregate_id}]" in block["context"]
    assert "4417" not in block["context"]
    assert block["lag"] == 0
    assert block["as_of_position"] > 0


async def test_an_update_replaces_what_is_found_and_a_forget_removes_it(app: App) -> None:
    saved = await propose(app, "memory.save", text="The bins go out on Tuesday")
    memory_id = saved.aggregate_id
    assert memory_id is not None
    await propose(app, "memory.update", memory_id=memory_id,
                  text="The bins go out on Thursday", expected_version=1)
    assert [h["text"] for h in (await search(app, "bins"))["hits"]] == [
        "The bins go out on Thursday"]
    assert (await search(app, "Tuesday"))["hits"] == []
    await propose(app, "memory.forget", memory_id=memory_id)
    assert (await search(app, "bins Thursday"))["hits"] == []
    assert f"[{memory_id}]" not in (await context(app, "when do the bins go out"))["context"]


async def test_search_memory_ranks_and_gives_refs_to_cite(app: App) -> None:
    await propose(app, "memory.save", text="Sam takes the train to Lyon on Fridays")
    await propose(app, "memory.save", text="Lyon office: third floor")
    found = await search(app, "train Lyon Fridays")
    texts = [h["text"] for h in found["hits"]]
    assert texts[0] == "Sam takes the train to Lyon on Fridays"
    assert "Lyon office: third floor" in texts
    assert found["source_refs"] == [h["memory_id"] for h in found["hits"]]
    scores = [h["score"] for h in found["hits"]]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("budget", [12, 20, 40, 80, 160, 1000])
async def test_build_context_keeps_to_its_budget_and_cites_what_exists(
        app: App, budget: int) -> None:
    for n in range(12):
        await propose(app, "memory.save", text=f"Trip {n}: trains to Lyon and hotels near the "
                      f"station, booked {n} weeks ahead, second class, morning departure")
    block = await context(app, "trains hotels Lyon travel policy morning", budget)
    assert block["tokens"] == count_tokens(block["context"]) <= budget
    assert block["budget_tokens"] == budget
    assert block["source_refs"] == [line["ref"] for line in block["lines"]]
    for line in block["lines"]:
        assert line["text"].startswith(f"[{line['ref']}] ")
        projection = MEMORY_VIEW if line["source"] == "memory" else PASSAGES
        assert await stored(app, projection, line["ref"]), line["ref"]
    if budget >= 160:
        assert {line["source"] for line in block["lines"]} == {"memory", "document"}
    if budget == 12:
        assert block["context"] == ""  # not even the header and one line fit


async def test_the_search_index_follows_a_rebuild(app: App) -> None:
    """Rebuilt in a fresh generation and swapped in with it: a text the
    events never said (a stray row) is gone, what they say is found, and a
    forgotten item stays forgotten."""
    kept = await propose(app, "memory.save", text="The spare key is under the blue pot")
    moved = await propose(app, "memory.save", text="Recycling goes out on Monday")
    gone = await propose(app, "memory.save", text="The plumber comes on Wednesday")
    assert moved.aggregate_id
    assert gone.aggregate_id
    assert kept.aggregate_id
    await propose(app, "memory.update", memory_id=moved.aggregate_id,
                  text="Recycling goes out on Friday", expected_version=1)
    await propose(app, "memory.forget", memory_id=gone.aggregate_id)

    def stray(uow: UnitOfWork) -> None:
        uow.read_models.writer(TENANT, MEMORY_VIEW).put(
            "mem-stray", {"memory_id": "mem-stray", "kind": "note", "subject": "",
                          "text": "The blue pot hides nothing", "version": 1}, index="note",
            text="The blue pot hides nothing")

    await app.store.write(stray)
    assert "mem-stray" in {h["memory_id"] for h in (await search(app, "blue pot"))["hits"]}
    assert "mem-stray" in (await context(app, "blue pot spare key"))["source_refs"]

    await rebuild_projections(app.store, app.domain, app.upcaster, [MEMORY_VIEW, PASSAGES])

    assert [h["memory_id"] for h in (await search(app, "blue pot"))["hits"]] == [
        kept.aggregate_id]
    assert [h["text"] for h in (await search(app, "recycling"))["hits"]] == [
        "Recycling goes out on Friday"]
    assert (await search(app, "Monday"))["hits"] == []
    assert (await search(app, "plumber Wednesday"))["hits"] == []
    after = await context(app, "blue pot spare key")
    assert after["source_refs"][0] == kept.aggregate_id
    assert "mem-stray" not in after["source_refs"]
    for line in after["lines"]:
        projection = MEMORY_VIEW if line["source"] == "memory" else PASSAGES
        assert await stored(app, projection, line["ref"]), line["ref"]
    assert after["lag"] == 0
