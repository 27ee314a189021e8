"""The notification consumer: a sent notice lands in notices.jsonl once and
is recorded delivered once, through the executor, whatever is repeated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signoff.server.app import App
from signoff.server.delivery.consumers import delivery_key, notice_line
from signoff.server.services.proposals import CallContext
from signoff.store.ports import UnitOfWork
from signoff.store.records import EventEnvelope, OutboxMessage, ProposalRecord
from tests.conftest import principal
from tests.databases import both_adapters

from .conftest import RecordingSink, make_relay, notifier, send_notice

pytestmark = [pytest.mark.anyio, both_adapters]


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def sent_message(app: App, draft_id: str) -> OutboxMessage:
    rows = await app.store.read(lambda uow: uow.outbox.find(limit=10_000))
    [sent] = [m for m in rows if m.topic == "notice.sent" and m.aggregate_id == draft_id]
    return sent


async def notice_events(app: App, draft_id: str, tenant: str = "acme") -> list[EventEnvelope]:
    return await app.store.read(lambda uow: uow.events.stream(tenant, "notice", draft_id))


async def delivered_count(app: App, draft_id: str) -> int:
    return [e.event_type for e in await notice_events(app, draft_id)].count("notice.delivered")


async def test_a_sent_notice_is_delivered_and_recorded_through_the_executor(app: App) -> None:
    draft_id = await send_notice(app, correlation_id="corr-notice")
    consumer = notifier(app)
    await make_relay(app, consumer).drain()

    message = await sent_message(app, draft_id)
    [line] = lines(consumer.file.path)
    assert line["message_id"] == message.message_id
    assert line["notice"] == {"case_id": "case-acme-001", "body": "Dear regulated party"}
    assert consumer.file.path == app.settings.folder() / "notices.jsonl"

    events = await notice_events(app, draft_id)
    assert [e.event_type for e in events][-2:] == ["notice.sent", "notice.delivered"]
    delivered = events[-1]
    assert (delivered.actor_id, delivered.actor_type) == ("service:notifier", "service")
    assert delivered.correlation_id == "corr-notice"

    def proposals(uow: UnitOfWork) -> list[ProposalRecord]:
        return uow.proposals.find(command_type="notice.record_delivery")

    [proposal] = await app.store.read(proposals)
    assert (proposal.status, proposal.idempotency_key, proposal.decision.rule_id) == (
        "executed", delivery_key(message.message_id), "notice.record_delivery.service")
    assert proposal.event_ids == (delivered.event_id,)
    handled = await app.store.read(lambda uow: uow.inbox.handled([message.message_id]))
    assert [(c, m) for c, m, _ in handled] == [("notifier", message.message_id)]
    summary = await app.store.read(lambda uow: uow.read_models.get("acme", "notices", draft_id))
    assert summary is not None
    assert summary["status"] == "delivered"


async def test_redeliveries_change_nothing(app: App) -> None:
    draft_id = await send_notice(app)
    consumer = notifier(app)
    await make_relay(app, consumer).drain()
    message = await sent_message(app, draft_id)
    before = consumer.file.path.read_bytes()

    await consumer.publish(message)  # the same consumer, again
    await notifier(app).publish(message)  # a restarted one, reading the file afresh
    assert consumer.file.path.read_bytes() == before
    assert await delivered_count(app, draft_id) == 1


async def test_a_crash_after_the_append_does_not_append_twice(app: App) -> None:
    draft_id = await send_notice(app)
    message = await sent_message(app, draft_id)
    consumer = notifier(app)
    # what a consumer killed right after its fsync left behind
    assert notifier(app, consumer.file.path).file.append_once(
        message.message_id, notice_line(message))

    await consumer.publish(message)
    assert [line["message_id"] for line in lines(consumer.file.path)] == [message.message_id]
    assert await delivered_count(app, draft_id) == 1


async def test_a_crash_after_recording_the_delivery_does_not_record_it_twice(app: App) -> None:
    draft_id = await send_notice(app)
    message = await sent_message(app, draft_id)
    # what a consumer killed before writing its inbox row left behind
    service = principal(app, "service:notifier")
    first = await app.proposals.submit(service, "notice.record_delivery", {
        "draft_id": draft_id, "confidence": 1.0,
        "idempotency_key": delivery_key(message.message_id)}, CallContext())
    assert first.status == "executed"

    consumer = notifier(app)
    await consumer.publish(message)
    assert await delivered_count(app, draft_id) == 1
    assert len(lines(consumer.file.path)) == 1
    handled = await app.store.read(lambda uow: uow.inbox.handled([message.message_id]))
    assert len(handled) == 1


async def test_a_torn_last_line_is_cut_before_appending(app: App) -> None:
    draft_id = await send_notice(app)
    message = await sent_message(app, draft_id)
    consumer = notifier(app)
    consumer.file.path.write_text('{"message_id": "msg-earlier"}\n{"message_id": "evt_half')

    await consumer.publish(message)
    assert [line["message_id"] for line in lines(consumer.file.path)] == [
        "msg-earlier", message.message_id]


async def test_notices_of_both_tenants_are_delivered(app: App) -> None:
    acme = await send_notice(app)
    globex = await send_notice(app, "case-globex-001", tenant="globex")
    consumer = notifier(app)
    await make_relay(app, consumer).drain()
    assert {line["tenant_id"] for line in lines(consumer.file.path)} == {"acme", "globex"}
    assert await delivered_count(app, acme) == 1
    events = await notice_events(app, globex, "globex")
    assert events[-1].event_type == "notice.delivered"


async def test_only_services_may_record_a_delivery(app: App) -> None:
    gate = app.gate()
    agent, bob = principal(app, "agent:triage"), principal(app, "user:bob")
    assert not gate.may_propose(agent, "notice.record_delivery")
    assert not gate.may_propose(bob, "notice.record_delivery")
    assert gate.may_propose(principal(app, "service:notifier"), "notice.record_delivery")

    draft_id = await send_notice(app)
    before = await notice_events(app, draft_id)
    refused = await app.proposals.submit(agent, "notice.record_delivery", {
        "draft_id": draft_id, "confidence": 1.0})
    assert refused.is_error
    assert refused.proposal_id is None
    assert "may not propose notice.record_delivery" in refused.reason
    assert await notice_events(app, draft_id) == before


async def test_the_handler_refuses_unsent_and_already_delivered_notices(app: App) -> None:
    service = principal(app, "service:notifier")
    agent = principal(app, "agent:triage")
    draft = await app.proposals.submit(agent, "notice.create_draft", {
        "case_id": "case-acme-002", "body": "Draft only", "confidence": 0.9})
    unsent = await app.proposals.submit(service, "notice.record_delivery", {
        "draft_id": draft.aggregate_id, "confidence": 1.0})
    assert unsent.outcome == "rejected"
    assert "only a sent notice can be delivered" in unsent.reason

    draft_id = await send_notice(app)
    await make_relay(app, notifier(app)).drain()
    again = await app.proposals.submit(service, "notice.record_delivery", {
        "draft_id": draft_id, "confidence": 1.0, "idempotency_key": "a-new-key"})
    assert again.outcome == "rejected"
    assert "already been delivered" in again.reason
    assert await delivered_count(app, draft_id) == 1


async def test_a_consumer_without_its_principal_fails_the_row_for_a_retry(app: App) -> None:
    await make_relay(app, RecordingSink("backlog")).drain()
    await send_notice(app)
    orphan = notifier(app, app.settings.folder() / "n.jsonl", principal="service:nobody")
    result = await make_relay(app, orphan).drain()
    assert result.retrying == 1
    rows = await app.store.read(lambda uow: uow.outbox.find(status="pending"))
    assert [m.last_error for m in rows] == [
        "notifier: principal service:nobody is not configured"]
