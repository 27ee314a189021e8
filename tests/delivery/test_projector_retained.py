"""The projector keeps the documents a step left for the next step, and
never trusts them once someone else may have written the projection: a
rebuild's swap (even one ending where the projector stood) or another
projector moving the checkpoint."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from signoff.examples.casework import events as ev
from signoff.examples.casework.projections import CASE_TIMELINE
from signoff.server.app import App
from signoff.server.domain import Projection, ReadModelWriter
from signoff.server.state import projector as projector_module
from signoff.server.state.projector import checkpoint_name
from signoff.store.ports import UnitOfWork
from signoff.store.records import EventEnvelope
from tests.databases import both_adapters

from .test_projector import CASE_ID, add_briefs, app, checkpoint, projector

pytestmark = [pytest.mark.anyio, both_adapters]
MARKED = 1000  # an event count no replay of these events would reach
__all__ = ["app"]  # the fixture, shared with the projector's tests


async def stored(app: App) -> dict[str, Any]:
    doc = await app.store.read(lambda uow: uow.read_models.get("acme", CASE_TIMELINE, CASE_ID))
    assert doc is not None
    return doc


def marked(uow: UnitOfWork, generation: int | None = None) -> None:
    """The case's timeline as some other writer left it: counted MARKED."""
    doc = uow.read_models.get("acme", CASE_TIMELINE, CASE_ID)
    assert doc is not None
    uow.read_models.writer("acme", CASE_TIMELINE, generation).put(
        CASE_ID, {**doc, "event_count": MARKED})


async def test_documents_kept_across_steps_give_what_reading_them_gives(app: App) -> None:
    worker = projector(app, chunk=2)
    await add_briefs(app, 3)
    await worker.catch_up()
    await add_briefs(app, 3)
    await worker.catch_up()
    fresh = projector(app)
    doc = await stored(app)
    await app.store.write(lambda uow: uow.checkpoints.set(checkpoint_name(CASE_TIMELINE), 0))
    await fresh.catch_up()  # replays everything over what is stored: no change
    assert await stored(app) == doc
    assert doc["event_count"] == doc["version"]


async def test_a_rebuild_swapped_in_at_the_same_position_is_read_not_the_kept_copy(
    app: App,
) -> None:
    worker = projector(app)
    await add_briefs(app, 2)
    await worker.catch_up()
    reached = await checkpoint(app)

    def swap(uow: UnitOfWork) -> None:  # what a rebuild's last transaction does
        generation = uow.read_models.begin_generation(CASE_TIMELINE)
        marked(uow, generation)
        uow.read_models.activate(CASE_TIMELINE, generation)
        uow.checkpoints.set(checkpoint_name(CASE_TIMELINE), reached)

    await app.store.write(swap)
    await add_briefs(app, 1)
    await worker.catch_up()
    assert (await stored(app))["event_count"] == MARKED + 1


async def test_another_projector_moving_the_checkpoint_drops_the_kept_copy(app: App) -> None:
    first, second = projector(app), projector(app)
    await add_briefs(app, 2)
    await first.catch_up()
    await add_briefs(app, 1)
    await second.catch_up()
    await app.store.write(marked)  # as if the second one had written it so
    await add_briefs(app, 1)
    await first.catch_up()
    assert (await stored(app))["event_count"] == MARKED + 1


SEEN = "case_seen"


async def test_a_failed_step_drops_the_kept_copy(
    app: App, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A step that fails rolls back: whatever it did to the documents it was
    handed (here a list grown in place before the projection raised) must
    not reach the next step."""
    failing = {"on": False}

    def apply_seen(writer: ReadModelWriter, event: EventEnvelope) -> None:
        doc = writer.get(event.aggregate_id) or {"seen": []}
        doc["seen"].append(event.aggregate_version)
        if failing["on"]:
            raise RuntimeError("projection broke")
        writer.put(event.aggregate_id, doc)

    seen = Projection(name=SEEN, handles=ev.CASE_EVENTS, apply=apply_seen, mode="async")
    app.domain = replace(app.domain, projections=(*app.domain.projections, seen))
    monkeypatch.setattr(projector_module, "ERROR_RETRY", 0.0)  # retried at once
    worker = projector(app)
    await add_briefs(app, 2)
    await worker.catch_up()
    before = await app.store.read(lambda uow: uow.read_models.get("acme", SEEN, CASE_ID))
    assert before is not None

    await add_briefs(app, 1)
    failing["on"] = True
    stalled = {s.name: s.stalled for s in await worker.catch_up()}
    assert stalled[SEEN] is not None
    failing["on"] = False
    stalled = {s.name: s.stalled for s in await worker.catch_up()}
    assert stalled[SEEN] is None
    after = await app.store.read(lambda uow: uow.read_models.get("acme", SEEN, CASE_ID))
    assert after is not None
    assert after["seen"] == [*before["seen"], before["seen"][-1] + 1]
