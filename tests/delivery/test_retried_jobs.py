"""Write jobs a store runs again after rolling them back (PostgreSQL does,
after a deadlock or a serialization failure): the projector's step and the
rebuild's flushing and swapping jobs must do on the second attempt what
they would have done on the first, not start from what the rolled-back
attempt left in memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import signoff.server.state.rebuild as rebuild_module
from signoff.examples.casework.projections import CASE_TIMELINE
from signoff.server.app import App
from signoff.server.state.rebuild import rebuild_projections
from signoff.store.ports import UnitOfWork
from tests.databases import both_adapters
from tests.delivery.test_projector import add_briefs, app, checkpoint, dump, head, projector

pytestmark = [pytest.mark.anyio, both_adapters]
__all__ = ["app"]  # the fixture, shared with the projector's tests


class RolledBack(Exception):
    pass


def run_every_write_twice(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each write job runs once and is rolled back, then runs again in the
    same transaction: what a store retrying a deadlock victim does."""
    write = app.store.write

    def twice(job: Callable[[UnitOfWork], Any]) -> Any:
        def again(uow: UnitOfWork) -> Any:
            try:
                with uow.savepoint():
                    job(uow)
                    raise RolledBack
            except RolledBack:
                pass
            return job(uow)
        return write(again)

    monkeypatch.setattr(app.store, "write", twice)


async def test_a_projector_step_run_again_applies_its_events(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_briefs(app, 3)
    worker = projector(app)
    await worker.catch_up()
    await add_briefs(app, 2)
    run_every_write_twice(app, monkeypatch)
    await worker.catch_up()
    monkeypatch.undo()
    retried = await dump(app)
    assert await checkpoint(app) == await head(app)
    # Replayed from the start, plainly: what the timeline must hold.
    await rebuild_projections(app.store, app.domain, app.upcaster, [CASE_TIMELINE])
    assert await dump(app) == retried


async def test_a_rebuild_whose_jobs_run_again_swaps_in_every_document(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_briefs(app, 4)
    await projector(app).catch_up()
    expected = await dump(app)
    assert expected
    monkeypatch.setattr(rebuild_module, "FLUSH_DOCS", 1)  # a flushing job per chunk
    run_every_write_twice(app, monkeypatch)
    await rebuild_projections(app.store, app.domain, app.upcaster, [CASE_TIMELINE], chunk=3)
    monkeypatch.undo()
    assert await dump(app) == expected
