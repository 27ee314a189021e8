"""The live queue is told of a new proposal (`Store.changes`) rather than
finding it at its next poll: made through this console's app on either
adapter, or on PostgreSQL through another app on the same database (another
process, as far as the database can tell). The stream polls every 30 s here
and must have sent the change within 5."""

from __future__ import annotations

import anyio
import anyio.from_thread
import pytest

from signoff.server.app import App, Database
from signoff.server.clock import FixedClock
from signoff.server.console.app import ConsoleSettings
from tests.conftest import open_app
from tests.console.harness import console_running
from tests.console.http import Browserless
from tests.databases import both_adapters
from tests.review.helpers import closure, escalation

pytestmark = pytest.mark.anyio

POLL = 30.0
TOLD = 5.0


async def second_event_after(app: App, propose: App) -> list[str]:
    """The queue stream's first two events, the second caused by a proposal
    `propose` makes once the first has arrived."""
    await escalation(app)
    async with console_running(app, ConsoleSettings(secret="s", poll_seconds=POLL)) as base:
        web = Browserless(base)
        await web.sign_in("demo-alice")
        first_seen = anyio.Event()
        seen: list[str] = []

        def arrived(data: str) -> None:
            if not seen:
                anyio.from_thread.run_sync(first_seen.set)
            seen.append(data)

        async with anyio.create_task_group() as tg:
            tg.start_soon(web.events, "/queue/events?status=pending_approval", 2, arrived)
            await first_seen.wait()
            await anyio.sleep(0.2)  # the stream has read the queue and rests
            with anyio.fail_after(TOLD):
                await closure(propose)
                while len(seen) < 2:  # noqa: ASYNC110 - the events arrive on a worker thread
                    await anyio.sleep(0.02)
    return seen


@both_adapters
async def test_the_queue_stream_is_told_of_a_proposal_made_in_its_process(app: App) -> None:
    seen = await second_event_after(app, app)
    assert len(seen) == 2
    assert seen[0] != seen[1]


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_on_postgres_the_queue_stream_is_told_of_a_proposal_made_elsewhere(
    app: App, db: Database, clock: FixedClock,
) -> None:
    other = await open_app(db, clock)
    try:
        seen = await second_event_after(app, other)
    finally:
        await other.close()
    assert len(seen) == 2
    assert seen[0] != seen[1]
