"""An application on a real SQLite file with the casework demo data, a clock
that moves only when told to, and helpers to get notices sent and relays
built around sinks a test controls."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from pathlib import Path

from signoff.server.app import App
from signoff.server.delivery.config import RelayOptions
from signoff.server.delivery.consumers import NotificationConsumer
from signoff.server.delivery.relay import Relay
from signoff.server.delivery.sinks import BaseSink, Sink
from signoff.server.services.proposals import CallContext
from signoff.store.records import OutboxMessage
from tests.conftest import principal


async def send_notice(app: App, case_id: str = "case-acme-001", tenant: str = "acme",
                      body: str = "Dear regulated party", correlation_id: str | None = None
                      ) -> str:
    """Draft, approve (legal) and send a notice; returns its draft id."""
    agent = principal(app, "agent:triage", tenant)
    legal = principal(app, "user:bob" if tenant == "acme" else "user:erin", tenant)
    call = CallContext(run_id="run-notice", correlation_id=correlation_id)
    draft = await app.proposals.submit(
        agent, "notice.create_draft", {"case_id": case_id, "body": body, "confidence": 0.9}, call)
    assert draft.status == "executed", draft
    assert draft.aggregate_id
    asked = await app.proposals.submit(agent, "notice.approve", {
        "draft_id": draft.aggregate_id, "expected_version": 1, "confidence": 0.9}, call)
    assert asked.proposal_id, asked
    await app.approvals.approve(legal, asked.proposal_id, digest=None, channel="cli")
    sent = await app.proposals.submit(agent, "notice.send", {
        "draft_id": draft.aggregate_id, "expected_version": 2, "confidence": 0.9}, call)
    assert sent.status == "executed", sent
    return draft.aggregate_id


class RecordingSink(BaseSink):
    """Keeps what it was given; fails the first `failures` publishes."""

    def __init__(self, name: str = "recorder", failures: int = 0,
                 topics: Sequence[str] = ("*",)) -> None:
        super().__init__(name, topics)
        self.failures = failures
        self.calls = 0
        self.received: list[OutboxMessage] = []

    async def publish(self, message: OutboxMessage) -> None:
        self.calls += 1
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("sink unavailable")
        self.received.append(message)

    def ids(self) -> list[str]:
        return [m.message_id for m in self.received]


def make_relay(app: App, *sinks: Sink, max_attempts: int = 8, batch: int = 100,
               owner: str = "relay-test") -> Relay:
    return Relay(app.store, sinks, app.clock, RelayOptions(
        max_attempts=max_attempts, batch=batch, base_delay=1.0, max_delay=60.0),
        owner=owner, rng=random.Random(7))


def notifier(app: App, path: Path | None = None, **changes: str) -> NotificationConsumer:
    """The casework notification consumer as the composition root wires it;
    `changes` alter its declaration (another principal, say)."""
    [declared] = app.domain.notifications
    return NotificationConsumer(
        dataclasses.replace(declared, **changes),  # type: ignore[arg-type]
        path or app.settings.folder() / declared.file, store=app.store,
        submit=app.proposals.submit, principals=app.principals, clock=app.clock)
