"""call_api through the outbox: each decided call reaches the endpoint once,
whatever the relay repeats; what the consumer refuses never leaves; every
step is a committed fact (the gateway's started → completed / unknown).
On both adapters: the outbox, the inbox and the facts are the store's."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path
from typing import Any

import pytest

from signoff.server.app import App
from signoff.server.delivery.domain_consumers import DomainConsumer
from signoff.store.records import EventEnvelope, OutboxMessage
from tests.assistant.conftest import allow, propose, relay_until_idle, who
from tests.assistant.endpoint import Endpoint, running_endpoint
from tests.databases import both_adapters

pytestmark = [pytest.mark.anyio, both_adapters]


def folder(app: App) -> Path:
    return app.settings.folder()


async def call(app: App, url: str, method: str = "GET", **payload: Any) -> str:
    receipt = await propose(app, "api.call", url=url, method=method, **payload)
    assert receipt.status == "executed", receipt
    assert receipt.aggregate_id is not None
    return receipt.aggregate_id


async def view(app: App, call_id: str) -> dict[str, Any]:
    result = await app.queries.run(who(app, "agent:assistant"), "get_api_call",
                                   {"call_id": call_id})
    return result.model_dump()


async def facts(app: App, call_id: str) -> list[EventEnvelope]:
    return await app.store.read(lambda uow: uow.events.stream("home", "api_call", call_id))


async def kinds(app: App, call_id: str) -> list[str]:
    return [e.event_type.removeprefix("api_call.") for e in await facts(app, call_id)]


async def requested_message(app: App, call_id: str) -> OutboxMessage:
    rows = await app.store.read(lambda uow: uow.outbox.find(limit=10_000))
    [row] = [m for m in rows if m.topic == "api_call.requested" and m.aggregate_id == call_id]
    return row


def consumer(app: App, name: str = "api-caller") -> DomainConsumer:
    [declared] = app.domain.consumers
    return DomainConsumer(dataclasses.replace(declared, name=name), folder(app),
                          store=app.store, submit=app.proposals.submit,
                          principals=app.principals, clock=app.clock)


async def test_an_allowed_call_is_made_once_and_its_answer_recorded(
        app: App, endpoint: Endpoint) -> None:
    allow(folder(app), endpoint.url(""), private=True)
    call_id = await call(app, endpoint.url("/status"))
    assert (await view(app, call_id))["status"] == "requested"  # decided, not yet made
    assert endpoint.hits["/status"] == 0

    await relay_until_idle(app)
    shown = await view(app, call_id)
    assert shown["status"] == "completed", shown
    assert shown["response"]["status_code"] == 200
    assert '"ok": true' in shown["response"]["body"]
    assert await kinds(app, call_id) == ["requested", "started", "completed"]
    assert {e.actor_id for e in (await facts(app, call_id))[1:]} == {"service:api-caller"}
    assert endpoint.hits["/status"] == 1

    # The relay delivers it again (a crash before it marked the row published):
    # the inbox skips it; and a consumer that lost its inbox row finds the
    # call completed — either way, no second request.
    message = await requested_message(app, call_id)
    await consumer(app).publish(message)
    await consumer(app, "api-caller-without-inbox").publish(message)
    await relay_until_idle(app)
    assert endpoint.hits["/status"] == 1
    assert await kinds(app, call_id) == ["requested", "started", "completed"]


async def test_a_crash_after_started_is_an_unknown_outcome_a_person_resolves(
        app: App, endpoint: Endpoint) -> None:
    allow(folder(app), endpoint.url(""), private=True)
    call_id = await call(app, endpoint.url("/status"))
    # What a relay that died mid-call leaves: started, with nothing after it.
    begun = await propose(app, "api.begin", "service:api-caller", call_id=call_id)
    assert begun.status == "executed", begun

    await relay_until_idle(app)
    shown = await view(app, call_id)
    assert shown["status"] == "outcome_unknown"
    assert "may or may not" in shown["reason"]
    assert endpoint.hits["/status"] == 0  # never a blind retry

    refused = await propose(app, "api.resolve", call_id=call_id, outcome="retry",
                            reason="let me try")
    assert refused.status == "rejected"  # agents never settle a call
    retried = await propose(app, "api.resolve", "user:sam", call_id=call_id, outcome="retry",
                            reason="the endpoint's log shows nothing arrived")
    assert retried.status == "executed", retried
    await relay_until_idle(app)
    assert (await view(app, call_id))["status"] == "completed"
    assert endpoint.hits["/status"] == 1
    assert await kinds(app, call_id) == ["requested", "started", "outcome_unknown",
                                         "retry_approved", "started", "completed"]


async def test_an_unreachable_endpoint_is_not_sent_and_tried_again(app: App) -> None:
    with socket.socket() as probe:  # a port nobody listens on (yet)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    allow(folder(app), f"http://127.0.0.1:{port}", private=True)
    call_id = await call(app, f"http://127.0.0.1:{port}/status")
    await relay_until_idle(app, rounds=0)
    assert await kinds(app, call_id) == ["requested", "started", "not_sent"]
    assert (await view(app, call_id))["status"] == "requested"

    with running_endpoint(port) as endpoint:
        await relay_until_idle(app)
        assert endpoint.hits["/status"] == 1
    assert (await view(app, call_id))["status"] == "completed"
    assert (await view(app, call_id))["attempts"] == 2


async def test_no_answer_in_time_is_unknown_and_never_repeated(
        app: App, endpoint: Endpoint) -> None:
    allow(folder(app), endpoint.url(""), private=True, timeout=0.3)
    endpoint.hang = 1.0
    call_id = await call(app, endpoint.url("/hang"))
    await relay_until_idle(app)
    shown = await view(app, call_id)
    assert shown["status"] == "outcome_unknown"
    assert "no whole answer" in shown["reason"]
    assert endpoint.hits["/hang"] == 1


async def test_a_write_waits_for_the_owner_then_is_made_once(
        app: App, endpoint: Endpoint) -> None:
    allow(folder(app), endpoint.url(""), private=True)
    asked = await propose(app, "api.call", url=endpoint.url("/orders"), method="POST",
                          body={"item": "oat milk"})
    assert asked.status == "pending_approval"
    assert asked.decision is not None
    assert asked.decision.rule_id == "api.ask-writes"
    await relay_until_idle(app)
    assert endpoint.hits["/orders"] == 0  # nothing before the owner approves

    assert asked.proposal_id is not None
    voted = await app.approvals.approve(who(app, "user:sam"), asked.proposal_id, digest=None,
                                        channel="cli")
    assert voted.proposal.status == "executed"
    await relay_until_idle(app)
    assert endpoint.hits["/orders"] == 1
    assert endpoint.bodies == [b'{"item":"oat milk"}']
    assert asked.aggregate_id is not None
    assert (await view(app, asked.aggregate_id))["response"]["status_code"] == 201
