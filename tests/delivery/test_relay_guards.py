"""What the relay must not do: publish past its lease, deliver an aggregate's
rows around a dead one, blank what an in-process consumer needs, or leak a
webhook's credentials into errors."""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import timedelta

import pytest
from pydantic import BaseModel, Field

from signoff.server.app import App
from signoff.server.clock import FixedClock
from signoff.server.delivery.config import RelayOptions
from signoff.server.delivery.relay import Relay
from signoff.server.delivery.sinks import WebhookSink
from signoff.server.errors import ConfigError
from signoff.server.observability import sensitive_fields
from signoff.store.records import OutboxMessage
from tests.core.helpers import invoke
from tests.databases import both_adapters

from .conftest import RecordingSink, make_relay, notifier, send_notice
from .receiver import webhook_receiver
from .test_relay import outbox, row, settle_backlog

pytestmark = [pytest.mark.anyio, both_adapters]


async def test_a_relay_stops_publishing_when_its_lease_runs_out(
    app: App, clock: FixedClock
) -> None:
    """The first publish outlasts the lease and another relay takes the batch
    over meanwhile: the first relay publishes nothing more and claims no
    credit for the row the other settled."""
    pending = len(await outbox(app, "pending"))
    published: list[tuple[str, str]] = []
    second: list[object] = []

    class Slow(RecordingSink):
        async def publish(self, message: OutboxMessage) -> None:
            published.append((self.name, message.message_id))
            await super().publish(message)
            if self.name == "first" and len(published) == 1:
                clock.advance(timedelta(seconds=61))  # longer than the 60 s lease
                other = Relay(app.store, [Slow("second")], app.clock, RelayOptions(),
                              owner="second")
                second.append(await other.run_once())

    first = await Relay(app.store, [Slow("first")], app.clock, RelayOptions(),
                        owner="first").run_once()

    assert (first.claimed, first.published, first.deferred) == (pending, 0, pending - 1)
    assert first.lost == 1  # the row in flight: the other relay settled it
    assert [name for name, _ in published].count("first") == 1  # only the one in flight
    twice = [m for m, n in Counter(m for _, m in published).items() if n > 1]
    assert len(twice) == 1
    assert await outbox(app, "pending") == []
    assert len(await outbox(app, "published")) == pending


async def test_a_relay_refuses_a_lease_too_short_for_its_sinks(app: App) -> None:
    slow = WebhookSink("slow", "https://hooks.example/x", b"k", timeout=30)
    try:
        with pytest.raises(ConfigError, match=r"relay.lease \(60s\) must be at least 3 times"):
            Relay(app.store, [slow], app.clock, RelayOptions(lease=60))
        assert Relay(app.store, [slow], app.clock, RelayOptions(lease=90)).margin == timedelta(
            seconds=30)
    finally:
        await slow.close()


async def test_a_dead_row_holds_back_its_aggregate_and_status_says_so(
    app: App, clock: FixedClock
) -> None:
    await settle_backlog(app)
    draft_id = await send_notice(app)
    later = OutboxMessage(message_id="msg-later", tenant_id="acme", topic="notice.reminder",
                          aggregate_id=draft_id, payload={}, created_at=app.clock())
    await app.store.write(lambda uow: uow.outbox.add([later]))
    broken = RecordingSink(failures=1000, topics=["notice.sent"])
    await make_relay(app, broken, max_attempts=1).drain()
    [dead] = await outbox(app, "dead")
    assert (dead.topic, dead.aggregate_id) == ("notice.sent", draft_id)
    assert (await row(app, "msg-later")).status == "pending"

    db = str(app.settings.db)
    status = await invoke(["outbox", "status", "--db", db, "--json"])
    assert status.exit_code == 0, status.output
    [listed] = [json.loads(line) for line in status.stdout.splitlines()
                if json.loads(line)["kind"] == "dead"]
    assert (listed["message_id"], listed["holds_back"], listed["waiting"]) == (
        dead.message_id, {"tenant_id": "acme", "aggregate_id": draft_id}, 1)
    human = await invoke(["outbox", "status", "--db", db])
    assert f"holds back acme/{draft_id}: 1 later row(s) wait" in human.stdout

    clock.advance(timedelta(minutes=5))
    await make_relay(app, broken, max_attempts=1).drain()
    assert (await row(app, "msg-later")).status == "pending"  # still behind the dead row
    retried = await invoke(["outbox", "retry", "--db", db, dead.message_id])
    assert retried.exit_code == 0, retried.output
    healthy = RecordingSink()
    await make_relay(app, healthy).drain()
    assert healthy.ids() == [dead.message_id, "msg-later"]


class NoticePayload(BaseModel):
    body: str = Field(json_schema_extra={"sensitive": True})


async def test_only_external_sinks_get_the_redacted_message(app: App) -> None:
    """A field marked sensitive never leaves the process, but the in-process
    notification consumer delivers the notice itself: it needs the body."""
    await settle_backlog(app)
    await send_notice(app, body="Dear regulated party")
    external = RecordingSink("archive", topics=["notice.sent"])
    consumer = notifier(app)
    relay = Relay(app.store, [external, consumer], app.clock, RelayOptions(), owner="r",
                  sensitive=sensitive_fields(NoticePayload))
    result = await relay.drain()
    assert result.dead == result.retrying == 0
    [sent] = external.received
    assert sent.payload["payload"]["body"] == "[redacted]"
    [line] = [json.loads(x) for x in consumer.file.path.read_text().splitlines()]
    assert line["notice"]["body"] == "Dear regulated party"


async def test_webhook_errors_name_the_origin_only(
    app: App, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A URL's user, password, path and query are credentials often enough:
    an error (the row's last_error, the log, `outbox status`, the trace)
    names the scheme, host and port, and the kind of failure."""
    await settle_backlog(app)
    await send_notice(app)
    with webhook_receiver([503]) as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        secret_url = f"http://ops:hunter2@127.0.0.1:{port}/hooks/T0/XXSECRET?token=abc"
        relay = make_relay(app, WebhookSink("hook", secret_url, b"k", topics=["notice.sent"],
                                            timeout=2))
        await relay.drain()
    [refused] = [m for m in await outbox(app, "pending") if m.topic == "notice.sent"]
    clock.advance(timedelta(minutes=5))
    with caplog.at_level(logging.WARNING, logger="signoff.relay"):
        await relay.drain()  # the receiver is gone now
    await relay.close()
    [gone] = [m for m in await outbox(app, "pending") if m.topic == "notice.sent"]

    assert refused.last_error == f"hook: POST http://127.0.0.1:{port}: HTTP 503"
    assert gone.last_error == f"hook: POST http://127.0.0.1:{port}: ConnectError"
    logged = " ".join(f"{r.getMessage()} {getattr(r, 'error', '')}" for r in caplog.records)
    assert "ConnectError" in logged
    for text in ("hunter2", "ops", "XXSECRET", "token", "abc"):
        assert text not in f"{refused.last_error} {gone.last_error} {logged}", text
