"""The workers that catch up after a commit are woken by it (`Store.changes`)
rather than finding it at their next poll: the relay, the async projector and
the MCP proposal watcher, on both adapters. Each polls every 30 s here and
must have acted within 5: it was told."""

from __future__ import annotations

import anyio
import pytest
from mcp.server.subscriptions import InMemorySubscriptionBus

from signoff.server.app import App
from signoff.server.delivery.config import RelayOptions
from signoff.server.delivery.relay import Relay
from signoff.server.mcp.resources import PREFIX, ProposalWatch
from signoff.server.services.proposals import CallContext
from signoff.server.state.projector import Projector
from signoff.store.records import OutboxMessage
from tests.conftest import principal
from tests.databases import both_adapters

from .conftest import RecordingSink, send_notice

pytestmark = [pytest.mark.anyio, both_adapters]

POLL = 30.0
TOLD = 5.0


REST = 0.3  # a worker just started has made its first pass and rests


class TellingSink(RecordingSink):
    def __init__(self) -> None:
        super().__init__()
        self.published = anyio.Event()

    async def publish(self, message: OutboxMessage) -> None:
        await super().publish(message)
        self.published.set()


async def test_the_relay_is_woken_by_rows_a_command_adds(app: App) -> None:
    sink = TellingSink()
    relay = Relay(app.store, [sink], app.clock, RelayOptions(poll=POLL), owner="relay-test")
    await relay.drain()  # the demo data's rows
    sink.published = anyio.Event()
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(relay.run, stop)
        await anyio.sleep(REST)
        await send_notice(app)
        with anyio.fail_after(TOLD):
            await sink.published.wait()
        stop.set()


async def test_the_projector_is_woken_by_events_a_command_appends(app: App) -> None:
    reached: dict[str, int] = {}
    moved = anyio.Event()

    def progress(name: str, position: int) -> None:
        reached[name] = position
        moved.set()

    projector = Projector(app.store, app.domain, app.upcaster, poll=POLL, on_progress=progress)
    assert projector.projections, "the casework domain has an async projection"
    await projector.catch_up()
    start = dict(reached)
    moved = anyio.Event()
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(projector.run, stop)
        await anyio.sleep(REST)
        moved = anyio.Event()  # the first pass's report, if any, is not it
        await send_notice(app)
        with anyio.fail_after(TOLD):
            await moved.wait()
        stop.set()
    assert any(reached[name] > start.get(name, 0) for name in reached)


async def test_the_proposal_watcher_is_woken_by_a_decision(app: App) -> None:
    agent = principal(app, "agent:triage")
    call = CallContext(run_id="run-watch")
    draft = await app.proposals.submit(agent, "notice.create_draft", {
        "case_id": "case-acme-001", "body": "Dear regulated party", "confidence": 0.9}, call)
    assert draft.aggregate_id
    asked = await app.proposals.submit(agent, "notice.approve", {
        "draft_id": draft.aggregate_id, "expected_version": 1, "confidence": 0.9}, call)
    assert asked.status == "pending_approval"
    assert asked.proposal_id
    uri = PREFIX + asked.proposal_id
    heard: list[str] = []
    told = anyio.Event()

    async def notify(updated: str) -> None:
        heard.append(updated)
        told.set()

    watch = ProposalWatch(app, InMemorySubscriptionBus(), interval=POLL)
    assert await watch.add(uri, "client-1", agent, notify)
    async with anyio.create_task_group() as tg:
        tg.start_soon(watch.run)
        await anyio.sleep(REST)
        await app.approvals.approve(principal(app, "user:bob"), asked.proposal_id, digest=None,
                                    channel="cli")
        with anyio.fail_after(TOLD):
            await told.wait()
        tg.cancel_scope.cancel()
    assert heard == [uri]
