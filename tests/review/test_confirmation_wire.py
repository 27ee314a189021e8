"""Requester confirmation through the real proposal tools (build_server), not a
hand-written test tool: on both protocol generations, a confirming human gets
the proposal executed by one tool call, a declining one leaves it queued, and
an agent is never asked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client

from signoff.server.app import App
from signoff.server.clock import FixedClock
from signoff.server.mcp.identity import FixedIdentity
from signoff.server.mcp.server import build_server
from tests.conftest import open_app, principal
from tests.review.helpers import CASE, case_version
from tests.review.test_confirmation import POLICY, Requester, proposals, votes

pytestmark = pytest.mark.anyio


@pytest.fixture
async def app(db: Path, clock: FixedClock) -> AsyncIterator[App]:
    built = await open_app(db, clock, policy=POLICY)
    try:
        yield built
    finally:
        await built.close()


async def close_case(
    app: App, caller: str, mode: str, requester: Requester | None
) -> dict[str, object]:
    server = build_server(app, FixedIdentity(principal(app, caller)))
    arguments = {"case_id": CASE, "expected_version": await case_version(app, CASE),
                 "confidence": 0.9, "rationale": "refunded", "evidence_refs": ["ev-acme-001-a"]}
    async with server.running(), Client(server, mode=mode, elicitation_callback=requester) as c:
        result = await c.call_tool("propose_case_closure", arguments)
    assert result.structured_content is not None, result.content
    return dict(result.structured_content)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_confirming_requester_gets_it_executed_through_the_real_tool(
    app: App, mode: str
) -> None:
    receipt = await close_case(app, "user:carol", mode, Requester())
    assert receipt["status"] == "executed"
    [stored] = await proposals(app)
    assert await votes(app, stored.proposal_id) == [("user:carol", "approve", "elicitation")]


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_declining_requester_leaves_it_queued(app: App, mode: str) -> None:
    receipt = await close_case(app, "user:carol", mode, Requester("decline"))
    assert receipt["status"] == "pending_approval"
    [stored] = await proposals(app)
    assert await votes(app, stored.proposal_id) == []


async def test_an_agent_is_never_asked(app: App) -> None:
    requester = Requester()
    receipt = await close_case(app, "agent:triage", "auto", requester)
    assert receipt["status"] == "pending_approval"
    assert requester.asked == []
