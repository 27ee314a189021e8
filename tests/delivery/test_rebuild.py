"""Rebuilds that race each other, async projections that skip an aggregate's
first event, and more aggregates than the projector keeps in memory: a
rebuild gives what the projector gives, or stops and says why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest

from signoff.examples.casework import events as ev
from signoff.examples.casework.projections import CASE_SUMMARY, CASE_TIMELINE
from signoff.server.app import App, Settings, build_app
from signoff.server.clock import FixedClock, SequentialIds
from signoff.server.domain import Projection, ReadModelWriter
from signoff.server.state import rebuild
from signoff.server.state.projector import ProjectionGap, Projector, VersionTracker, checkpoint_name
from signoff.server.state.rebuild import rebuild_projections
from signoff.store.errors import GenerationSuperseded
from signoff.store.records import EventEnvelope
from tests.store.tables import live_documents

from .test_projector import add_briefs

pytestmark = pytest.mark.anyio
PARTIAL = "case_changes"


def apply_changes(writer: ReadModelWriter, event: EventEnvelope) -> None:
    doc = writer.get(event.aggregate_id) or {"versions": []}
    writer.put(event.aggregate_id, {"versions": [*doc["versions"], event.aggregate_version]})


@pytest.fixture
async def app(db: Path, clock: FixedClock) -> AsyncIterator[App]:
    """The timeline domain plus an async projection of every case event but
    the first (`case.opened`)."""
    built = await build_app(Settings(db=db, clock=clock, ids=SequentialIds(),
                                     domain="tests.delivery.timeline_domain:build_domain"))
    partial = Projection(name=PARTIAL, handles=ev.CASE_EVENTS - {ev.CASE_OPENED},
                         apply=apply_changes, mode="async")
    built.domain = replace(built.domain, projections=(*built.domain.projections, partial))
    await built.seed_if_empty()
    try:
        yield built
    finally:
        await built.close()


async def dumps(app: App, *names: str) -> dict[str, Any]:
    return await app.store.read(lambda uow: {n: live_documents(uow, n) for n in names})


@pytest.mark.parametrize("flush_docs", [1, rebuild.FLUSH_DOCS], ids=["flushing", "holding"])
async def test_two_rebuilds_at_once_keep_every_document(
    app: App, monkeypatch: pytest.MonkeyPatch, flush_docs: int,
) -> None:
    """The rebuild that began first finds itself superseded and stops (at
    its next flush, or its next chunk when it has nothing to flush); the
    newer one swaps in a complete generation."""
    monkeypatch.setattr(rebuild, "FLUSH_DOCS", flush_docs)
    await add_briefs(app, 3)
    await Projector(app.store, app.domain, app.upcaster).catch_up()
    names = (CASE_SUMMARY, CASE_TIMELINE)
    before = await dumps(app, *names)
    first_chunk = anyio.Event()
    outcome: dict[str, Any] = {}

    async def older() -> None:
        try:
            outcome["older"] = await rebuild_projections(
                app.store, app.domain, app.upcaster, names, chunk=2,
                progress=lambda done, total: first_chunk.set())
        except GenerationSuperseded as exc:
            outcome["older"] = exc

    async def newer() -> None:
        await first_chunk.wait()
        outcome["newer"] = await rebuild_projections(
            app.store, app.domain, app.upcaster, names, chunk=3)

    async with anyio.create_task_group() as tg:
        tg.start_soon(older)
        tg.start_soon(newer)

    assert isinstance(outcome["older"], GenerationSuperseded)
    assert "superseded by a newer rebuild" in str(outcome["older"])
    head = await app.store.read(lambda uow: uow.events.head())
    assert outcome["newer"] == {CASE_SUMMARY: head, CASE_TIMELINE: head}
    assert await dumps(app, *names) == before
    # The loser left nothing behind either: only the live generation remains.
    count = await app.store.read(lambda uow: len(live_documents(uow, CASE_SUMMARY)))
    assert count == len(before[CASE_SUMMARY])


async def test_a_rebuild_flushing_every_chunk_builds_what_the_projector_builds(
    app: App, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await add_briefs(app, 3)
    await Projector(app.store, app.domain, app.upcaster).catch_up()
    names = (CASE_SUMMARY, CASE_TIMELINE, PARTIAL)
    live = await dumps(app, *names)
    writes: list[int] = []
    real_flush = rebuild.Rebuild.flush

    def counted(job: rebuild.Rebuild, uow: Any) -> None:
        writes.append(job.pending)
        real_flush(job, uow)

    monkeypatch.setattr(rebuild, "FLUSH_DOCS", 1)
    monkeypatch.setattr(rebuild.Rebuild, "flush", counted)
    await rebuild_projections(app.store, app.domain, app.upcaster, names, chunk=2)
    *on_the_way, _tail = writes  # the swapping transaction flushes, changed or not
    assert len(on_the_way) > 1
    assert all(on_the_way)
    assert await dumps(app, *names) == live


async def test_a_rebuild_agrees_with_the_projector_when_a_first_event_is_not_handled(
    app: App,
) -> None:
    await add_briefs(app, 2)
    [*_, status] = await Projector(app.store, app.domain, app.upcaster).catch_up()
    assert (status.name, status.stalled) == (PARTIAL, None)
    live = await dumps(app, PARTIAL)
    assert live[PARTIAL]  # every case has events after case.opened

    rebuilt = await rebuild_projections(app.store, app.domain, app.upcaster, [PARTIAL])
    head = await app.store.read(lambda uow: uow.events.head())
    assert rebuilt == {PARTIAL: head}
    assert await dumps(app, PARTIAL) == live


async def test_a_rebuild_never_forgets_an_aggregate(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stand-in for more aggregates than a tracker keeps by default: the
    projector looks a forgotten one up again, a replay from 0 must not forget."""
    real = VersionTracker.__init__

    def small_by_default(self: VersionTracker, projection: str, capacity: int | None = 2,
                         parent: VersionTracker | None = None) -> None:
        real(self, projection, capacity, parent)

    monkeypatch.setattr(VersionTracker, "__init__", small_by_default)
    for i in range(6):
        await add_briefs(app, 1, f"case-acme-00{1 + i % 3}")
    statuses = await Projector(app.store, app.domain, app.upcaster).catch_up()
    assert [s.stalled for s in statuses] == [None, None]
    live = await dumps(app, CASE_TIMELINE)

    rebuilt = await rebuild_projections(app.store, app.domain, app.upcaster, [CASE_TIMELINE])
    head = await app.store.read(lambda uow: uow.events.head())
    assert rebuilt == {CASE_TIMELINE: head}
    assert await dumps(app, CASE_TIMELINE) == live
    assert await app.store.read(
        lambda uow: uow.checkpoints.get(checkpoint_name(CASE_TIMELINE))) == head


def test_without_a_lookup_every_event_advances_its_aggregate_handled_or_not() -> None:
    def event(version: int) -> EventEnvelope:
        return EventEnvelope(
            event_id=f"e{version}", event_type="case.x", tenant_id="acme",
            aggregate_type="case", aggregate_id="c", aggregate_version=version,
            actor_type="agent", actor_id="a", payload_schema="x", payload={},
            occurred_at=FixedClock().now, position=version)

    tracker = VersionTracker("p", capacity=None)
    assert tracker.admit(event(1), handled=False) is False
    assert tracker.admit(event(2), handled=True) is True
    with pytest.raises(ProjectionGap, match="jumps to version 4, expected 3"):
        tracker.admit(event(4), handled=False)
