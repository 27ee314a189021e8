"""The `withdraw_proposal` tool over real clients: the proposer withdraws its
pending proposal (over stdio, both protocol generations); someone else's, an
approved one and another tenant's are refused and left as they are."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp_types import CallToolResult

from signoff.server.app import App
from signoff.server.mcp.identity import FixedIdentity
from signoff.server.mcp.server import build_server
from tests.core.helpers import table_counts
from tests.mcp.conftest import open_app, stdio_session

pytestmark = pytest.mark.anyio
ESCALATION = {"case_id": "case-acme-001", "expected_version": 4, "confidence": 0.8,
              "evidence_refs": ["ev-acme-001-a"], "rationale": "the fee schedule"}


def receipt(result: CallToolResult) -> dict[str, Any]:
    assert result.structured_content is not None, result.content
    return dict(result.structured_content)


@pytest.fixture
async def app(db: Path) -> AsyncIterator[App]:
    async with open_app(db) as opened:
        yield opened


def identity(app: App, principal_id: str, tenant: str = "acme") -> FixedIdentity:
    record = app.principals.get(principal_id)
    assert record is not None
    return FixedIdentity(record.facts(tenant))


async def call(app: App, caller: FixedIdentity, tool: str, **arguments: Any) -> CallToolResult:
    server = build_server(app, caller)
    async with server.running(), Client(server) as client:
        return await client.call_tool(tool, arguments)


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_proposer_withdraws_its_pending_proposal_over_stdio(db: Path, mode: str) -> None:
    async with stdio_session(db, mode=mode) as client:
        [tool] = [t for t in (await client.list_tools()).tools if t.name == "withdraw_proposal"]
        assert tool.annotations is not None
        assert (tool.annotations.read_only_hint, tool.annotations.destructive_hint,
                tool.annotations.idempotent_hint) == (False, False, True)
        proposed = receipt(await client.call_tool("propose_case_escalation", ESCALATION))
        assert proposed["status"] == "pending_approval"
        result = await client.call_tool("withdraw_proposal", {
            "proposal_id": proposed["proposal_id"], "reason": "wrong case"})
        assert not result.is_error
        withdrawn = receipt(result)
        assert (withdrawn["status"], withdrawn["outcome"]) == ("withdrawn", "accepted")
        assert withdrawn["reason"] == "withdrawn by agent:triage: wrong case"
        again = await client.call_tool("withdraw_proposal", {
            "proposal_id": proposed["proposal_id"]})
        assert (receipt(again)["status"], again.is_error) == ("withdrawn", False)
        followed = receipt(await client.call_tool("get_proposal", {
            "proposal_id": proposed["proposal_id"]}))
        assert followed["status"] == "withdrawn"


async def test_someone_elses_proposal_is_refused_and_left_pending(app: App, db: Path) -> None:
    proposed = receipt(await call(app, identity(app, "agent:triage"),
                                  "propose_case_escalation", **ESCALATION))
    before = table_counts(db)
    result = await call(app, identity(app, "user:carol"), "withdraw_proposal",
                        proposal_id=proposed["proposal_id"])
    assert result.is_error
    refused = receipt(result)
    assert (refused["status"], refused["outcome"]) == ("pending_approval", "rejected")
    assert "only its proposer, agent:triage" in refused["reason"]
    assert table_counts(db)["proposal_events"] == before["proposal_events"]


async def test_another_tenants_proposal_is_not_found(app: App, db: Path) -> None:
    proposed = receipt(await call(app, identity(app, "agent:triage"),
                                  "propose_case_escalation", **ESCALATION))
    before = table_counts(db)
    result = await call(app, identity(app, "agent:triage", "globex"), "withdraw_proposal",
                        proposal_id=proposed["proposal_id"])
    assert result.is_error
    assert result.structured_content is None
    assert f"proposal {proposed['proposal_id']} not found" in str(result.content)
    assert table_counts(db)["proposal_events"] == before["proposal_events"]


async def test_an_approved_proposal_is_not_withdrawn(app: App) -> None:
    proposed = receipt(await call(app, identity(app, "agent:triage"),
                                  "propose_case_escalation", **ESCALATION))
    alice = identity(app, "user:alice").principal
    await app.approvals.approve(alice, proposed["proposal_id"], digest=None, channel="cli")
    result = await call(app, identity(app, "agent:triage"), "withdraw_proposal",
                        proposal_id=proposed["proposal_id"])
    assert result.is_error
    assert receipt(result)["status"] == "executed"
    assert "only a proposal waiting for approval" in receipt(result)["reason"]


async def test_bad_arguments_are_refused_with_the_field(app: App) -> None:
    result = await call(app, identity(app, "agent:triage"), "withdraw_proposal",
                        proposal_id="", extra=1)
    assert result.is_error
    text = str(result.content)
    assert "proposal_id" in text
    assert "extra" in text
