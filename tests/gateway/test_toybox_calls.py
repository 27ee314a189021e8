"""Approved upstream calls that go wrong, end to end: toybox over stdio, the
runtime's invoker in a relay, services on a real SQLite file. A hang ends
`outcome_unknown` and is not repeated; an `isError` answer is `failed` with
the upstream's words; 5 MB is bounded and a secret redacted where the
result is recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from signoff.server.app import App
from signoff.server.gateway import INVOKER
from signoff.server.gateway.bounds import DEFAULT_MAX_BYTES, TRUNCATED_META
from signoff.server.services.receipts import Receipt
from signoff.store.ports import UnitOfWork
from tests.conftest import principal

from .box_world import AGENT, TENANT, Box, call_events, drain, make_box_world, serving
from .upstreams import TOKEN

pytestmark = pytest.mark.anyio
RESULTS = Box("box", propose=("fail", "huge", "leak"))
# Room the recorded result may take beyond the bound: its JSON framing.
FRAMING = 4096


async def call(app: App, tool: str, **arguments: Any) -> Receipt:
    """An allowed call to toybox, proposed by the agent: it runs once the
    relay delivers its `tool_call.approved`."""
    receipt = await app.proposals.submit(principal(app, AGENT, TENANT), tool, {
        **arguments, "confidence": 0.9, "rationale": "asked by the user"})
    assert receipt.status == "executing", receipt
    return receipt


async def settled(app: App, receipt: Receipt) -> Receipt:
    assert receipt.proposal_id is not None
    found = await app.proposals.receipt(principal(app, AGENT, TENANT), receipt.proposal_id)
    assert found is not None
    return found


def event_types(events: list[Any]) -> list[str]:
    return [e.event_type for e in events]


async def test_a_hang_times_out_as_outcome_unknown_and_is_never_repeated(
    tmp_path: Path,
) -> None:
    world = await make_box_world(tmp_path, Box("slow", propose=("sleep",), timeout="1s"))
    async with serving(world) as (app, _runtime, relay):
        receipt = await call(app, "tool.slow.sleep", seconds=600)
        assert receipt.proposal_id is not None
        await drain(relay)
        unknown = await settled(app, receipt)
        assert unknown.status == "outcome_unknown"
        assert "did not answer sleep within 1 s" in unknown.reason
        once = ["tool_call.approved", "tool_call.started", "tool_call.outcome_unknown"]
        assert event_types(await call_events(app, receipt.proposal_id)) == once

        # Nothing is left to deliver, and the same message delivered again
        # (a relay that lost its mark) finds the call settled: no second try.
        await drain(relay)
        [approved] = await app.store.read(lambda uow: [
            m for m in uow.outbox.find(limit=1000) if m.topic == "tool_call.approved"])
        [invoker] = [s for s in relay.sinks if s.name == INVOKER]
        await invoker.publish(approved)
        assert event_types(await call_events(app, receipt.proposal_id)) == once
        assert (await settled(app, receipt)).status == "outcome_unknown"


async def test_an_is_error_answer_fails_the_call_with_the_upstreams_words(
    tmp_path: Path,
) -> None:
    world = await make_box_world(tmp_path, RESULTS)
    async with serving(world) as (app, _runtime, relay):
        receipt = await call(app, "tool.box.fail", message="no such branch: main2")
        assert receipt.proposal_id is not None
        await drain(relay)
        failed = await settled(app, receipt)
        assert failed.status == "failed"
        assert failed.result is not None
        assert failed.result["isError"] is True
        assert "no such branch: main2" in json.dumps(failed.result["content"])
        events = await call_events(app, receipt.proposal_id)
        assert event_types(events) == [
            "tool_call.approved", "tool_call.started", "tool_call.failed"]
        assert events[-1].payload["result"] == failed.result


async def test_a_5_mb_result_is_recorded_bounded(tmp_path: Path) -> None:
    world = await make_box_world(tmp_path, RESULTS)
    async with serving(world) as (app, _runtime, relay):
        receipt = await call(app, "tool.box.huge", megabytes=5)
        assert receipt.proposal_id is not None
        await drain(relay)
        done = await settled(app, receipt)
        assert done.status == "executed"
        completed = (await call_events(app, receipt.proposal_id))[-1]
        assert completed.event_type == "tool_call.completed"
        recorded = completed.payload["result"]
        assert len(json.dumps(recorded).encode()) <= DEFAULT_MAX_BYTES + FRAMING
        # what was cut is said in words, in a last text block
        assert f"over the limit of {DEFAULT_MAX_BYTES}" in recorded["content"][-1]["text"]
        assert recorded["structuredContent"][TRUNCATED_META]["bytes"] > 5 * 1024 * 1024
        assert done.result == recorded


async def stored_text(app: App, world_db: Path) -> str:
    """Everything the database holds: its file and write-ahead log, as text."""
    await app.store.read(lambda uow: None)
    parts = [p for p in (world_db, world_db.with_name(world_db.name + "-wal")) if p.exists()]
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in parts)


async def test_a_secret_in_a_result_is_redacted_in_the_receipt_and_the_store(
    tmp_path: Path,
) -> None:
    world = await make_box_world(tmp_path, RESULTS)
    leaked = (TOKEN, "abcdefghijklmnop.qrstuvwxyz0123", "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX",
              "MIIEowIBAAKCAQEA")
    async with serving(world) as (app, _runtime, relay):
        receipt = await call(app, "tool.box.leak")
        assert receipt.proposal_id is not None
        await drain(relay)
        done = await settled(app, receipt)
        assert done.status == "executed"
        shown = done.model_dump_json()
        completed = (await call_events(app, receipt.proposal_id))[-1]
        recorded = json.dumps(completed.payload)
        assert "[redacted]" in shown
        assert "[redacted]" in recorded
        for secret in leaked:
            assert secret not in shown
            assert secret not in recorded

        def outbox_payloads(uow: UnitOfWork) -> str:
            return json.dumps([m.payload for m in uow.outbox.find(limit=1000)])
        outbox = await app.store.read(outbox_payloads)
        everything = await stored_text(app, world.db)
    assert "[redacted]" in outbox
    for secret in leaked:
        assert secret not in outbox
        assert secret not in everything
