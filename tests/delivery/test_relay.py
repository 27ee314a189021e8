"""The relay: every row published once, in order per aggregate; failures
retried with growing, jittered delays; dead rows kept with their error,
visible in `outbox status` and revived by `outbox retry`."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path

import pytest

from signoff.server.app import App
from signoff.server.clock import FixedClock
from signoff.server.delivery.sinks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    BaseSink,
    JsonlSink,
    WebhookSink,
    encode,
    message_document,
)
from signoff.store.records import OutboxMessage
from tests.conftest import principal
from tests.core.helpers import invoke
from tests.databases import both_adapters

from .conftest import RecordingSink, make_relay, send_notice
from .receiver import webhook_receiver

pytestmark = [pytest.mark.anyio, both_adapters]


async def outbox(app: App, status: str | None = None) -> list[OutboxMessage]:
    return await app.store.read(lambda uow: uow.outbox.find(status=status, limit=10_000))


async def row(app: App, message_id: str) -> OutboxMessage:
    found = await app.store.read(lambda uow: uow.outbox.get(message_id))
    assert found is not None
    return found


async def settle_backlog(app: App) -> None:
    """Publish what seeding left, so a test starts from an empty outbox."""
    await make_relay(app, RecordingSink("backlog")).drain()
    assert await outbox(app, "pending") == []


async def test_every_row_is_published_once_in_order_per_aggregate(app: App) -> None:
    rows = await outbox(app)
    assert len(rows) > 20
    sink = RecordingSink()
    result = await make_relay(app, sink, batch=7).drain()

    assert sorted(sink.ids()) == sorted(m.message_id for m in rows)
    assert (result.claimed, result.published, result.retrying) == (len(rows), len(rows), 0)
    position = {m.message_id: m.position for m in rows}
    by_aggregate: dict[tuple[str, str | None], list[int]] = {}
    for m in sink.received:
        by_aggregate.setdefault((m.tenant_id, m.aggregate_id), []).append(position[m.message_id])
    assert all(seen == sorted(seen) for seen in by_aggregate.values())
    assert await app.store.read(lambda uow: uow.outbox.counts()) == {"published": len(rows)}
    assert (await make_relay(app, sink).drain()).claimed == 0
    assert len(sink.received) == len(rows)


async def test_a_failing_row_is_retried_later_with_growing_jittered_delays(
    app: App, clock: FixedClock
) -> None:
    await settle_backlog(app)
    await send_notice(app)
    sink = RecordingSink(failures=3, topics=["notice.sent"])
    relay = make_relay(app, sink)
    [sent] = [m for m in await outbox(app, "pending") if m.topic == "notice.sent"]

    for failure in (1, 2, 3):
        result = await relay.drain()
        assert result.retrying == 1
        failed = await row(app, sent.message_id)
        assert (failed.status, failed.attempts) == ("pending", failure)
        assert failed.last_error == "recorder: sink unavailable"
        assert failed.next_attempt_at is not None
        delay = (failed.next_attempt_at - clock.now).total_seconds()
        ceiling = 2.0 ** (failure - 1)
        assert ceiling / 2 <= delay <= ceiling
        assert (await relay.drain()).claimed == 0  # not due yet
        clock.advance(timedelta(seconds=delay))

    assert (await relay.drain()).published >= 1
    delivered = await row(app, sent.message_id)
    assert (delivered.status, delivered.attempts) == ("published", 4)
    assert sink.ids() == [sent.message_id]
    assert sink.calls == 4


async def test_a_later_row_of_an_aggregate_waits_for_the_earlier_one(
    app: App, clock: FixedClock
) -> None:
    await settle_backlog(app)
    draft_id = await send_notice(app)
    pending = [m for m in await outbox(app, "pending") if m.aggregate_id == draft_id]
    first, *later = pending
    assert len(later) >= 2

    class FailsFirst(RecordingSink):
        async def publish(self, message: OutboxMessage) -> None:
            if message.message_id == first.message_id and self.failures:
                self.failures -= 1
                raise ConnectionError("refused")
            await super().publish(message)

    sink = FailsFirst(failures=1)
    result = await make_relay(app, sink).drain()
    assert result.deferred == len(later)
    assert not {m.message_id for m in pending} & set(sink.ids())
    assert [(await row(app, m.message_id)).attempts for m in later] == [0] * len(later)

    clock.advance(timedelta(seconds=5))
    await make_relay(app, sink).drain()
    assert [i for i in sink.ids() if i in {m.message_id for m in pending}] == [
        m.message_id for m in pending]


async def test_a_row_is_dead_after_max_attempts_then_retried_by_command(
    app: App, clock: FixedClock
) -> None:
    await settle_backlog(app)
    await send_notice(app)
    broken = RecordingSink(failures=1000, topics=["notice.sent"])
    relay = make_relay(app, broken, max_attempts=3)
    for _ in range(3):
        await relay.drain()
        clock.advance(timedelta(minutes=5))
    [dead] = await outbox(app, "dead")
    assert (dead.topic, dead.attempts, dead.last_error) == (
        "notice.sent", 3, "recorder: sink unavailable")
    assert (await relay.drain()).claimed == 0

    db = str(app.settings.db)
    status = await invoke(["outbox", "status", "--db", db, "--json"])
    assert status.exit_code == 0, status.output
    lines = [json.loads(line) for line in status.stdout.splitlines()]
    summary = next(line for line in lines if line["kind"] == "summary")
    assert (summary["dead"], summary["pending"]) == (1, 0)
    [listed] = [line for line in lines if line["kind"] == "dead"]
    assert (listed["message_id"], listed["attempts"], listed["last_error"]) == (
        dead.message_id, 3, "recorder: sink unavailable")
    human = await invoke(["outbox", "status", "--db", db])
    assert dead.message_id in human.stdout
    assert "sink unavailable" in human.stdout

    refused = await invoke(["outbox", "retry", "--db", db, "--json", "nope"])
    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["problem"] == "no such message"
    published = (await outbox(app, "published"))[0].message_id
    not_dead = await invoke(["outbox", "retry", "--db", db, published])
    assert not_dead.exit_code == 1
    assert "only dead messages" in not_dead.stderr

    retried = await invoke(["outbox", "retry", "--db", db, dead.message_id])
    assert retried.exit_code == 0, retried.output
    assert (await row(app, dead.message_id)).status == "pending"
    healthy = RecordingSink(topics=["notice.sent"])
    assert (await make_relay(app, healthy).drain()).published >= 1
    assert healthy.ids() == [dead.message_id]
    assert (await row(app, dead.message_id)).status == "published"


async def test_a_sink_that_cannot_flush_leaves_the_rows_pending(app: App) -> None:
    class Unsynced(RecordingSink):
        async def flush(self) -> None:
            raise OSError("disk full")

    result = await make_relay(app, Unsynced()).drain()
    assert result.published == 0
    assert result.retrying == result.claimed > 0
    assert await outbox(app, "published") == []
    assert {m.last_error for m in await outbox(app)} == {"recorder: flush failed: disk full"}


async def test_a_jsonl_sink_appends_a_batch_at_flush_and_fails_it_whole(
    app: App, clock: FixedClock, tmp_path: Path,
) -> None:
    rows = await outbox(app, "pending")
    sink = JsonlSink("archive", tmp_path / "out" / "archive.jsonl")
    for message in rows[:3]:
        await sink.publish(message)
    assert not sink.path.exists()  # encoded, not written: nothing durable to claim yet
    await sink.flush()
    lines = sink.path.read_bytes().splitlines()
    assert lines == [encode(message_document(m)) for m in rows[:3]]
    await sink.flush()  # nothing new: nothing appended twice
    assert sink.path.read_bytes().splitlines() == lines
    await sink.close()

    blocked = tmp_path / "blocked"
    blocked.mkdir()  # a directory where the file should be
    result = await make_relay(app, JsonlSink("archive", blocked)).drain()
    assert (result.published, result.retrying) == (0, len(rows))
    [error] = {m.last_error for m in await outbox(app)}
    assert error is not None
    assert error.startswith(f"archive: flush failed: cannot append to {blocked}")

    clock.advance(timedelta(hours=1))  # past every retry's backoff
    sink = JsonlSink("archive", tmp_path / "archive.jsonl")
    result = await make_relay(app, sink, batch=7).drain()
    assert result.published == len(rows)
    ids = [json.loads(line)["id"] for line in sink.path.read_bytes().splitlines()]
    assert sorted(ids) == sorted(m.message_id for m in rows)  # the failed batch left none


async def test_secrets_in_a_payload_never_reach_a_sink(app: App) -> None:
    await settle_backlog(app)
    message = OutboxMessage(
        message_id="msg-secret", tenant_id="acme", topic="integration.configured",
        payload={"endpoint": "https://x", "api_token": "s3cr3t", "nested": {"Password": "p"}},
        created_at=app.clock())
    await app.store.write(lambda uow: uow.outbox.add([message]))
    sink = RecordingSink()
    await make_relay(app, sink).drain()
    [got] = sink.received
    assert got.payload == {"endpoint": "https://x", "api_token": "[redacted]",
                           "nested": {"Password": "[redacted]"}}


async def test_webhook_delivery_is_signed_and_retried_until_accepted(
    app: App, clock: FixedClock
) -> None:
    """A real HTTP endpoint that answers 503 twice, then 200: the approval
    request reaches it once, signed, with a link to the console and no way
    to approve; the row counts three attempts."""
    await settle_backlog(app)
    agent = principal(app, "agent:triage")
    receipt = await app.proposals.submit(agent, "case.escalate", {
        "case_id": "case-acme-001", "expected_version": 4, "confidence": 0.8,
        "evidence_refs": ["ev-acme-001-a"]})
    assert receipt.status == "pending_approval", receipt
    secret = b"webhook-test-secret"
    with webhook_receiver([503, 503]) as receiver:
        sink = WebhookSink("reviewers", receiver.url, secret, topics=["approval.*"],
                           console_url="https://console.example/", timeout=5)
        relay = make_relay(app, sink)
        try:
            for _ in range(3):
                await relay.drain()
                clock.advance(timedelta(minutes=1))
        finally:
            await relay.close()
    [request] = [r for r in receiver.requests if r.answered == 200]
    assert [r.answered for r in receiver.requests] == [503, 503, 200]
    assert len({r.headers["Idempotency-Key"] for r in receiver.requests}) == 1
    [sent] = [m for m in await outbox(app) if m.topic == "approval.requested"]
    assert request.headers["Idempotency-Key"] == sent.message_id
    assert (sent.status, sent.attempts) == ("published", 3)

    timestamp = request.headers[TIMESTAMP_HEADER]
    expected = hmac.new(secret, timestamp.encode() + b"." + request.body, hashlib.sha256)
    assert request.headers[SIGNATURE_HEADER] == "v1=" + expected.hexdigest()
    body = json.loads(request.body)
    assert body["links"] == {"proposal": f"https://console.example/proposals/{receipt.proposal_id}"}
    assert (body["topic"], body["payload"]["proposal_id"]) == (
        "approval.requested", receipt.proposal_id)
    text = request.body.decode().lower()
    assert "token" not in text
    assert "/approve" not in text
    assert "digest" not in text


async def test_an_unreachable_webhook_is_a_retryable_failure(app: App) -> None:
    await settle_backlog(app)
    await send_notice(app)
    with webhook_receiver() as receiver:
        url = receiver.url  # the server is gone once the block ends
    sink = WebhookSink("gone", url, b"k", topics=["notice.sent"], timeout=2)
    relay = make_relay(app, sink)
    try:
        result = await relay.drain()
    finally:
        await relay.close()
    assert result.retrying == 1
    [failed] = [m for m in await outbox(app, "pending") if m.topic == "notice.sent"]
    assert failed.last_error is not None
    assert failed.last_error.startswith("gone: POST ")


async def test_a_sink_only_gets_the_topics_it_asked_for(app: App) -> None:
    class Picky(BaseSink):
        def __init__(self) -> None:
            super().__init__("picky", ["case.*"])
            self.topics: set[str] = set()

        async def publish(self, message: OutboxMessage) -> None:
            self.topics.add(message.topic)

    sink = Picky()
    await make_relay(app, sink).drain()
    assert sink.topics
    assert all(t.startswith("case.") for t in sink.topics)
    assert await outbox(app, "pending") == []
