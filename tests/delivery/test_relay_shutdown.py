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


class StopsAfterOne(RecordingSink):
    """Sets `stop` once it took a row: the relay stops after this pass."""

    def __init__(self, stop: anyio.Event) -> None:
        super().__init__("stops")
        self.stop = stop

    async def publish(self, message: OutboxMessage) -> None:
        await super().publish(message)
        self.stop.set()


async def test_a_full_batch_claims_the_next_and_a_stop_gives_it_back(app: App) -> None:
    pending = {m.message_id for m in await outbox(app, "pending")}
    assert len(pending) > 4
    stop = anyio.Event()
    sink = StopsAfterOne(stop)
    first = make_relay(app, sink, batch=2, owner="first")
    await first.run(stop)  # one pass: a full batch, settled while claiming the next

    published = set(sink.ids())
    assert len(published) == 2
    assert {m.message_id for m in await outbox(app, "published")} == published
    # The batch claimed ahead was never published: the stop gave it back, so
    # another relay takes every row left at once (the clock has not moved).
    second = RecordingSink("second")
    result = await make_relay(app, second, owner="second").drain()
    assert set(second.ids()) == pending - published
    assert result.published == len(pending) - 2
    assert all(m.attempts == 1 for m in await outbox(app, "published"))


async def test_rows_claimed_ahead_are_held_until_published_or_given_back(app: App) -> None:
    pending = await outbox(app, "pending")
    assert len(pending) > 4
    sink = RecordingSink()
    relay = make_relay(app, sink, batch=2, owner="first")
    assert (await relay.run_once()).published == 2
    ahead = [m.message_id for m in pending if m.message_id not in sink.ids()][:2]
    [probe] = await claimable(app)
    assert probe.message_id not in ahead  # the next two are this relay's already

    assert (await relay.run_once()).published == 2  # publishes what it claimed ahead
    assert sink.ids()[2:] == ahead
    await relay.close()  # gives back the third batch, claimed ahead of a stop
    rest = {m.message_id for m in await outbox(app, "pending")}
    result = await make_relay(app, RecordingSink("other"), owner="other").drain()
    assert result.published == len(rest)
