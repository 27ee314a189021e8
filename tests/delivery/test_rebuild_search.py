"""Search texts through the server: inline projections (the committer's
writer), async ones (the projector's cache) and rebuilds (a fresh generation
filled a flush at a time) all store what a projection puts, and a query's
`reader.search` finds it, with the answer's freshness counting the
projection it searched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from signoff.server.app import App, Settings, build_app
from signoff.server.clock import FixedClock, SequentialIds
from signoff.server.state import rebuild
from signoff.server.state.projector import Projector
from signoff.server.state.rebuild import rebuild_projections
from signoff.store.ports import UnitOfWork
from tests.conftest import principal
from tests.databases import both_adapters

from .search_domain import ASYNC, INLINE, SEARCH, SearchResult, projections
from .test_projector import CASE_ID, add_briefs

pytestmark = [pytest.mark.anyio, both_adapters]


@pytest.fixture
async def app(db: Path, clock: FixedClock) -> AsyncIterator[App]:
    built = await build_app(Settings(db=db, clock=clock, ids=SequentialIds(),
                                     domain="tests.delivery.search_domain:build_domain"))
    await built.seed_if_empty()
    try:
        yield built
    finally:
        await built.close()


async def search(app: App, projection: str, query: str) -> SearchResult:
    result = await app.queries.run(principal(app, "agent:triage"), SEARCH.name,
                                   {"projection": projection, "query": query})
    assert isinstance(result, SearchResult)
    return result


async def test_inline_and_async_projections_texts_are_searched(app: App) -> None:
    await add_briefs(app, 2)

    inline = await search(app, INLINE, "brief")
    assert CASE_ID in inline.keys
    assert inline.lag == 0
    behind = await search(app, ASYNC, "brief")
    assert behind.keys == []
    assert behind.lag > 0  # the async projection has not caught up: the answer says so

    await Projector(app.store, app.domain, app.upcaster).catch_up()
    caught_up = await search(app, ASYNC, "brief")
    assert caught_up.keys == inline.keys
    assert caught_up.lag == 0
    assert (await search(app, ASYNC, "nosuchword")).keys == []


async def test_a_rebuilds_texts_replace_the_old_ones_only_once_swapped_in(
    app: App, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await add_briefs(app, 3)
    await Projector(app.store, app.domain, app.upcaster).catch_up()
    before = {name: (await search(app, name, "brief")).keys for name in (INLINE, ASYNC)}
    assert all(CASE_ID in keys for keys in before.values())

    seen_mid_rebuild: list[list[str]] = []
    real_flush = rebuild.Rebuild.flush

    def flush_then_search(job: rebuild.Rebuild, uow: UnitOfWork) -> None:
        real_flush(job, uow)
        for name in (INLINE, ASYNC):
            found = uow.read_models.search("acme", name, "v2brief", 5)
            seen_mid_rebuild.append([key for key, _, _ in found])

    monkeypatch.setattr(rebuild, "FLUSH_DOCS", 1)
    monkeypatch.setattr(rebuild.Rebuild, "flush", flush_then_search)
    app.domain = replace(app.domain, projections=tuple(
        p for p in app.domain.projections if p.name not in (INLINE, ASYNC)) + projections("v2"))
    await rebuild_projections(app.store, app.domain, app.upcaster, (INLINE, ASYNC), chunk=2)

    assert len(seen_mid_rebuild) > 2  # flushed on the way, not only when swapping
    assert all(found == [] for found in seen_mid_rebuild)
    for name in (INLINE, ASYNC):
        assert (await search(app, name, "v2brief")).keys == before[name]
        assert (await search(app, name, "brief")).keys == []
