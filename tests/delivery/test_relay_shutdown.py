"""A relay stopped mid-pass (a `serve` session closing) gives its leases back:
the rows it had claimed are claimable at once by another relay, not after the
lease runs out."""

from __future__ import annotations

import anyio
import pytest

from signoff.server.app import App
from signoff.store.records import OutboxMessage
from tests.databases import both_adapters

from .conftest import RecordingSink, make_relay
from .test_relay import outbox

pytestmark = [pytest.mark.anyio, both_adapters]


async def claimable(app: App) -> list[OutboxMessage]:
    """What another relay could claim now (a claim that finds nothing writes nothing)."""
    now = app.clock()
    return await app.store.write(lambda uow: uow.outbox.claim("probe", now, now, 1))


class StuckSink(RecordingSink):
    """Takes the first row and never returns: a webhook that hangs."""

    def __init__(self) -> None:
        super().__init__("stuck")
        self.publishing = anyio.Event()

    async def publish(self, message: OutboxMessage) -> None:
        self.publishing.set()
        await anyio.sleep_forever()


async def test_a_relay_cancelled_mid_pass_releases_its_leases(app: App) -> None:
    pending = {m.message_id for m in await outbox(app, "pending")}
    assert pending
    sink = StuckSink()
    first = make_relay(app, sink, owner="first")
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(first.run, anyio.Event())
        await sink.publishing.wait()  # mid-pass: the batch is claimed and leased
        assert await claimable(app) == []
        tasks.cancel_scope.cancel()

    rows = await outbox(app, "pending")
    assert {m.message_id for m in rows} == pending  # nothing was published
    assert all(m.attempts == 0 for m in rows)  # a shutdown is not a failed attempt
    # The clock has not moved: without the release the 60 s lease would hold.
    second = RecordingSink("second")
    result = await make_relay(app, second, owner="second").drain()
    assert result.published == len(pending)
    assert set(second.ids()) == pending
