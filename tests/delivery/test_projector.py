"""The async projector: checkpointed, idempotent, stopping at version gaps;
queries over it say how far behind they are; a rebuild while queries run."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from signoff.examples.casework import events as ev
from signoff.examples.casework.projections import CASE_TIMELINE
from signoff.examples.casework.state import CASE
from signoff.server.app import App, Settings, build_app
from signoff.server.clock import FixedClock, SequentialIds
from signoff.server.domain import NewEvent
from signoff.server.errors import NotFound
from signoff.server.services.proposals import CallContext
from signoff.server.state.committer import Causation
from signoff.server.state.documents import CachedDocuments
from signoff.server.state.projector import (
    ProjectionGap,
    Projector,
    VersionTracker,
    checkpoint_name,
)
from signoff.server.state.rebuild import rebuild_projections
from signoff.store.ports import UnitOfWork
from signoff.store.records import Actor, EventEnvelope
from tests.conftest import principal
from tests.core.helpers import invoke
from tests.store.tables import live_documents

pytestmark = pytest.mark.anyio
CASE_ID = "case-acme-001"
Dump = list[tuple[str, str, dict[str, Any]]]


@pytest.fixture
async def app(db: Path, clock: FixedClock) -> AsyncIterator[App]:
    built = await build_app(Settings(db=db, clock=clock, ids=SequentialIds(),
                                     domain="tests.delivery.timeline_domain:build_domain"))
    await built.seed_if_empty()
    try:
        yield built
    finally:
        await built.close()


def projector(app: App, chunk: int = 1000) -> Projector:
    return Projector(app.store, app.domain, app.upcaster, chunk=chunk)


async def dump(app: App) -> Dump:
    return await app.store.read(lambda uow: live_documents(uow, CASE_TIMELINE))


async def checkpoint(app: App) -> int:
    return await app.store.read(lambda uow: uow.checkpoints.get(checkpoint_name(CASE_TIMELINE)))


async def head(app: App) -> int:
    return await app.store.read(lambda uow: uow.events.head())


RUNS = itertools.count(1)


async def add_briefs(app: App, n: int, case_id: str = CASE_ID) -> None:
    """`n` briefs in a run of their own, as one MCP connection would make
    them (the demo policy allows 50 proposals per run)."""
    agent = principal(app, "agent:triage")
    call = CallContext(run_id=f"briefs-{next(RUNS)}")
    for i in range(n):
        receipt = await app.proposals.submit(agent, "brief.create", {
            "case_id": case_id, "summary": f"brief {i}", "confidence": 0.9}, call)
        assert receipt.status == "executed", receipt


async def timeline(app: App, case_id: str = CASE_ID) -> Any:
    return await app.queries.run(principal(app, "agent:triage"), "get_case_timeline",
                                 {"case_id": case_id})


async def test_the_projector_catches_up_in_chunks_and_checkpoints(app: App) -> None:
    await add_briefs(app, 5)
    statuses = await projector(app, chunk=4).catch_up()
    assert [(s.name, s.checkpoint, s.lag, s.stalled) for s in statuses] == [
        (CASE_TIMELINE, await head(app), 0, None)]
    doc = await app.store.read(lambda uow: uow.read_models.get("acme", CASE_TIMELINE, CASE_ID))
    assert doc is not None
    types = [e["type"] for e in doc["entries"]]
    assert types[0] == ev.CASE_OPENED
    assert types[-5:] == [ev.CASE_BRIEF_ADDED] * 5
    assert doc["version"] == len(types) == doc["event_count"]
    assert [e["position"] for e in doc["entries"]] == sorted(e["position"] for e in doc["entries"])


async def test_queries_over_an_async_projection_report_its_checkpoint_and_lag(app: App) -> None:
    with pytest.raises(NotFound, match="not found"):
        await timeline(app)  # nothing projected yet: the read model is empty
    worker = projector(app)
    await worker.catch_up()
    caught_up = await timeline(app)
    assert (caught_up.as_of_position, caught_up.lag) == (await head(app), 0)

    await add_briefs(app, 3)
    behind = await timeline(app)
    assert (behind.as_of_position, behind.lag) == (caught_up.as_of_position, 3)
    assert len(behind.entries) == len(caught_up.entries)
    summary = await app.queries.run(principal(app, "agent:triage"), "get_case_summary",
                                    {"case_id": CASE_ID})
    assert (summary.as_of_position, summary.lag) == (await head(app), 0)  # inline: at the head

    await worker.catch_up()
    fresh = await timeline(app)
    assert (fresh.as_of_position, fresh.lag) == (await head(app), 0)
    assert len(fresh.entries) == len(caught_up.entries) + 3


async def test_a_redelivered_event_changes_nothing(app: App) -> None:
    await add_briefs(app, 4)
    worker = projector(app)
    await worker.catch_up()
    before, at = await dump(app), await checkpoint(app)

    # the same events again: from an earlier checkpoint, by this projector ...
    await app.store.write(lambda uow: uow.checkpoints.set(checkpoint_name(CASE_TIMELINE), 3))
    await worker.catch_up()
    assert await dump(app) == before
    # ... and by a fresh one that remembers nothing
    await app.store.write(lambda uow: uow.checkpoints.set(checkpoint_name(CASE_TIMELINE), 0))
    await projector(app).catch_up()
    assert (await dump(app), await checkpoint(app)) == (before, at)


async def test_a_chunk_reads_its_documents_at_once_and_writes_them_back_at_flush(
    app: App,
) -> None:
    def seed(uow: UnitOfWork) -> None:
        uow.read_models.writer("acme", "scratch").put_many(
            [(key, {"v": key}, None, None) for key in ("a", "b", "c")])

    await app.store.write(seed)

    def chunk(uow: UnitOfWork) -> tuple[Any, ...]:
        target = uow.read_models.writer("acme", "scratch")
        docs = CachedDocuments(target)
        docs.prefetch(["a", "b", "absent"])
        target.put("a", {"v": "behind the cache"})  # what was prefetched is what it sees
        seen = (docs.get("a"), docs.get("absent"), docs.get("c"))  # c: read through
        docs.put("a", {"v": 2})
        docs.delete("b")
        docs.put("new", {"v": 3}, "ix")
        unflushed = target.get_many(["a", "b", "new"])
        docs.flush()
        return seen, unflushed, target.get_many(["a", "b", "c", "new", "absent"])

    seen, unflushed, flushed = await app.store.write(chunk)
    assert seen == ({"v": "a"}, None, {"v": "c"})
    assert unflushed == {"a": {"v": "behind the cache"}, "b": {"v": "b"}}
    assert flushed == {"a": {"v": 2}, "c": {"v": "c"}, "new": {"v": 3}}
    assert await app.store.read(
        lambda uow: uow.read_models.find("acme", "scratch", index="ix")) == [{"v": 3}]


def test_the_tracker_skips_duplicates_and_refuses_gaps() -> None:
    def event(version: int, position: int) -> EventEnvelope:
        return EventEnvelope(
            event_id=f"e{position}", event_type="case.brief_added", tenant_id="acme",
            aggregate_type="case", aggregate_id="c", aggregate_version=version,
            actor_type="agent", actor_id="a", payload_schema="x", payload={},
            occurred_at=FixedClock().now, position=position)

    tracker = VersionTracker("p")
    assert [tracker.admit(event(v, v), True) for v in (1, 2, 2, 1, 3)] == [
        True, True, False, False, True]
    with pytest.raises(ProjectionGap, match="jumps to version 5, expected 4"):
        tracker.admit(event(5, 9), True)
    staged = tracker.stage()
    assert staged.admit(event(4, 10), True)
    assert tracker.admit(event(4, 10), True)  # the stage did not leak before commit
    fresh = VersionTracker("p")
    with pytest.raises(ProjectionGap, match="expected 1"):
        fresh.admit(event(2, 2), True)  # a replay from 0 must start at version 1
    assert fresh.admit(event(2, 2), True, lookup=lambda e: 1)


async def commit_with_gap(app: App) -> EventEnvelope:
    """Append case events at versions current+3 and +4: two versions missing."""
    def job(uow: UnitOfWork) -> list[EventEnvelope]:
        version = uow.events.version("acme", "case", CASE_ID)
        return app.committer.commit(
            uow, tenant_id="acme", aggregate_type=CASE.name, aggregate_id=CASE_ID,
            base_version=version + 2, causation=Causation(actor=Actor(id="x", kind="system")),
            events=[NewEvent(ev.CASE_BRIEF_ADDED, {"brief_number": 9, "summary": "s"})] * 2)

    return (await app.store.write(job))[0]


async def test_a_version_gap_stops_the_projection_and_says_where(app: App) -> None:
    await add_briefs(app, 2)
    worker = projector(app)
    await worker.catch_up()
    before = await dump(app)
    expected = await app.store.read(lambda uow: uow.events.version("acme", "case", CASE_ID)) + 1
    gap = await commit_with_gap(app)
    await add_briefs(app, 1, "case-acme-002")  # after the gap: must not be projected either

    [status] = await worker.catch_up()
    assert status.checkpoint == gap.position - 1
    assert status.lag == 3
    assert status.stalled == (
        f"projection {CASE_TIMELINE} stopped at position {gap.position}: case/{CASE_ID} "
        f"(tenant acme) jumps to version {expected + 2}, expected {expected}")
    assert await dump(app) == before
    [again] = await projector(app).catch_up()  # a restarted projector stops there too
    assert (again.checkpoint, again.stalled) == (status.checkpoint, status.stalled)

    result = await invoke(["relay", "--once", "--db", str(app.settings.db), "--json"])
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    [projection] = [line for line in lines if line["kind"] == "projection"]
    assert projection["stalled"] == status.stalled

    with pytest.raises(ProjectionGap):
        await rebuild_projections(app.store, app.domain, app.upcaster, [CASE_TIMELINE])
    assert (await dump(app), await checkpoint(app)) == (before, status.checkpoint)


async def test_a_rebuild_while_queries_run(app: App) -> None:
    for case_id in ("case-acme-001", "case-acme-002", "case-acme-003"):
        await add_briefs(app, 40, case_id)
    await projector(app).catch_up()
    live, live_answer = await dump(app), await timeline(app)
    agent = principal(app, "agent:triage")
    answers: list[Any] = []
    done = anyio.Event()

    async def keep_querying() -> None:
        while not done.is_set():
            answers.append(await timeline(app))
            answers.append(await app.queries.run(agent, "list_cases", {}))
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(keep_querying)
        rebuilt = await rebuild_projections(app.store, app.domain, app.upcaster, chunk=10)
        done.set()
    assert len(answers) > 10
    timelines = [a for a in answers if hasattr(a, "entries")]
    assert all(a.entries == live_answer.entries and a.lag == 0 for a in timelines)
    assert rebuilt[CASE_TIMELINE] == await head(app) == await checkpoint(app)
    assert await dump(app) == live
    assert await timeline(app) == live_answer


async def test_the_rebuild_command_rebuilds_async_projections_too(app: App) -> None:
    await add_briefs(app, 3)
    await projector(app).catch_up()
    live = await dump(app)
    await app.store.write(lambda uow: uow.read_models.writer("acme", CASE_TIMELINE).delete(CASE_ID))
    result = await invoke(["projections", "rebuild", CASE_TIMELINE, "--db",
                           str(app.settings.db), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"projection": CASE_TIMELINE, "position": await head(app)}
    assert await dump(app) == live
    assert await checkpoint(app) == await head(app)
