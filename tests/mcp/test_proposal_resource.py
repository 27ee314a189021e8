"""The proposal resource over real stdio: it mirrors get_proposal, survives a
restart, stays in its tenant, and tells subscribers when a reviewer in
another process decides the proposal (both protocol generations)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.session import IncomingMessage
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp.shared.subscriptions import ResourceUpdated
from mcp_types import ResourceUpdatedNotification, TextResourceContents

from tests.mcp.conftest import open_app, stdio_session

WATCH = ("--watch-interval", "0.1")


async def propose_escalation(client: Client, key: str) -> str:
    result = await client.call_tool("propose_case_escalation", {
        "case_id": "case-acme-001", "expected_version": 4, "confidence": 0.8,
        "evidence_refs": ["ev-acme-001-a"], "idempotency_key": key})
    assert result.structured_content is not None
    assert result.structured_content["status"] == "pending_approval"
    return str(result.structured_content["proposal_id"])


async def read_receipt(client: Client, proposal_id: str) -> dict[str, Any]:
    read = await client.read_resource(f"signoff://proposals/{proposal_id}")
    content = read.contents[0]
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == "application/json"
    return dict(json.loads(content.text))


async def approve(db: Path, proposal_id: str) -> None:
    """user:alice approves in this (test) process, as the console would."""
    async with open_app(db) as app:
        alice = app.principals.get("user:alice")
        assert alice is not None
        vote = await app.approvals.approve(alice.facts("acme"), proposal_id, digest=None,
                                           channel="console")
        assert vote.proposal.status == "executed"


async def globex_proposal(db: Path) -> str:
    async with open_app(db) as app:
        agent = app.principals.get("agent:triage")
        assert agent is not None
        receipt = await app.proposals.submit(agent.facts("globex"), "case.escalate", {
            "case_id": "case-globex-001", "expected_version": 3, "confidence": 0.8,
            "evidence_refs": ["ev-globex-001-a"]})
        assert receipt.status == "pending_approval", receipt
        assert receipt.proposal_id is not None
        return receipt.proposal_id


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_pending_proposal_survives_a_restart(db: Path) -> None:
    async with stdio_session(db) as client:
        proposal_id = await propose_escalation(client, "restart-1")
    async with stdio_session(db, mode="2026-07-28") as client:
        followed = await client.call_tool("get_proposal", {"proposal_id": proposal_id})
        assert followed.structured_content is not None
        assert followed.structured_content["status"] == "pending_approval"
        assert await read_receipt(client, proposal_id) == followed.structured_content


@pytest.mark.anyio
async def test_other_tenants_proposals_are_not_resources(db: Path) -> None:
    theirs = await globex_proposal(db)
    async with stdio_session(db) as client:
        for proposal_id in (theirs, "prop_nope"):
            with pytest.raises(MCPError) as refused:
                await client.read_resource(f"signoff://proposals/{proposal_id}")
            assert f"proposal {proposal_id} not found" in str(refused.value)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            with pytest.raises(MCPError, match="not found"):
                await client.subscribe_resource(f"signoff://proposals/{theirs}")


@pytest.mark.anyio
async def test_handshake_subscribers_hear_of_a_decision_made_elsewhere(db: Path) -> None:
    heard: list[str] = []
    updated = anyio.Event()

    async def on_message(message: IncomingMessage) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            heard.append(str(message.params.uri))
            updated.set()

    async with stdio_session(db, *WATCH, message_handler=on_message) as client:
        proposal_id = await propose_escalation(client, "subscribe-1")
        uri = f"signoff://proposals/{proposal_id}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            await client.subscribe_resource(uri)
        await approve(db, proposal_id)
        with anyio.fail_after(20):
            await updated.wait()
        assert heard == [uri]
        assert (await read_receipt(client, proposal_id))["status"] == "executed"


@pytest.mark.anyio
async def test_listen_streams_hear_of_a_decision_and_stay_in_their_tenant(db: Path) -> None:
    theirs = await globex_proposal(db)
    async with stdio_session(db, *WATCH, mode="2026-07-28") as client:
        proposal_id = await propose_escalation(client, "listen-1")
        mine = f"signoff://proposals/{proposal_id}"
        async with client.listen(resource_subscriptions=[
                mine, f"signoff://proposals/{theirs}"]) as subscription:
            assert subscription.honored.resource_subscriptions == [mine]
            await approve(db, proposal_id)
            with anyio.fail_after(20):
                event = await subscription.__anext__()
        assert event == ResourceUpdated(uri=mine)
