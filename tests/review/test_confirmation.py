"""Requester confirmation through MCP elicitation, with the real SDK client
connected in-process, on both protocol generations: "legacy" (a mid-call
elicitation/create request) and the default 2026-07-28 path (the tool
answers InputRequiredResult and the client retries the call)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp_types import (
    ElicitRequestFormParams,
    ElicitRequestParams,
    ElicitResult,
    ErrorData,
    InputRequiredResult,
)

from signoff.policies import PrincipalFacts
from signoff.server.app import App
from signoff.server.clock import FixedClock
from signoff.server.errors import Forbidden, Refused
from signoff.server.mcp.confirmation import submit_with_confirmation
from signoff.server.services.receipts import Receipt
from tests.conftest import open_app, principal
from tests.review.helpers import CASE, case_version, snapshot

pytestmark = pytest.mark.anyio
POLICY = Path(__file__).with_name("confirm_policy.toml")
MODES = ["legacy", "auto"]


@pytest.fixture
async def app(db: Path, clock: FixedClock) -> AsyncIterator[App]:
    built = await open_app(db, clock, policy=POLICY)
    try:
        yield built
    finally:
        await built.close()


def server_for(app: App, caller: PrincipalFacts, rounds: list[str] | None = None) -> MCPServer:
    """A proposal tool as the MCP layer writes one: the caller comes from the
    transport (here: fixed), submit, then the requester's confirmation."""
    server = MCPServer("confirm-test")

    @server.tool()
    async def propose(command: str, case_id: str, ctx: Context) -> Receipt | InputRequiredResult:
        if rounds is not None:
            rounds.append(ctx.protocol_version or "")
        arguments = {"case_id": case_id, "expected_version": await case_version(app, case_id),
                     "confidence": 0.9, "rationale": "The firm refunded every client.",
                     "evidence_refs": ["ev-acme-001-a"]}
        return await submit_with_confirmation(
            ctx, app, caller, lambda: app.proposals.submit(caller, command, arguments))

    return server


class Requester:
    """The person at the client: answers each elicitation as told."""

    def __init__(self, action: str = "accept", confirm: bool = True) -> None:
        self.action, self.confirm = action, confirm
        self.asked: list[ElicitRequestParams] = []

    async def __call__(self, context: Any, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        self.asked.append(params)
        content = {"confirm": self.confirm} if self.action == "accept" else None
        return ElicitResult(action=self.action, content=content)


async def propose(app: App, caller: str, mode: str, requester: Requester | None,
                  command: str = "case.close", rounds: list[str] | None = None) -> dict[str, Any]:
    server = server_for(app, principal(app, caller), rounds)
    async with Client(server, mode=mode, elicitation_callback=requester) as client:
        result = await client.call_tool("propose", {"command": command, "case_id": CASE})
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


async def proposals(app: App) -> list[Any]:
    return await app.store.read(lambda uow: uow.proposals.find(tenant_id="acme"))


async def votes(app: App, proposal_id: str) -> list[tuple[str, str, str]]:
    found = await app.store.read(lambda uow: uow.proposals.votes(proposal_id))
    return [(v.voter_id, v.verdict, v.channel) for v in found]


async def lifecycle(app: App, proposal_id: str) -> list[str]:
    found = await app.store.read(lambda uow: uow.proposals.events(proposal_id))
    return [e.event_type for e in found]


@pytest.mark.parametrize("mode", MODES)
async def test_the_requester_confirms_and_it_executes(app: App, mode: str) -> None:
    requester, rounds = Requester(), list[str]()
    receipt = await propose(app, "user:carol", mode, requester, rounds=rounds)
    # legacy asks mid-call; 2026-07-28 answers input_required and is called again
    assert len(rounds) == (1 if mode == "legacy" else 2), rounds
    assert rounds[0] != "2026-07-28" if mode == "legacy" else rounds[0] == "2026-07-28"
    assert receipt["status"] == "executed"
    assert [e["event_type"] for e in receipt["events"]] == ["case.closed"]
    [stored] = await proposals(app)  # asked once, recorded once, whatever the protocol
    assert stored.proposal_id == receipt["proposal_id"]
    assert await votes(app, stored.proposal_id) == [("user:carol", "approve", "elicitation")]
    [asked] = requester.asked
    for essential in ("case.close on case/case-acme-001", stored.payload_digest,
                      "Fee schedule vs. client statements", "The firm refunded every client.",
                      "close.ask-or-requester", "Approving commits case.closed",
                      '  status: "open" -> "closed"', stored.proposal_id):
        assert essential in asked.message, essential
    assert isinstance(asked, ElicitRequestFormParams)
    assert asked.requested_schema["required"] == ["confirm"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_decline_leaves_it_in_the_queue(app: App, mode: str) -> None:
    receipt = await propose(app, "user:carol", mode, Requester("decline"))
    assert receipt["status"] == "pending_approval"
    assert "waits in the review queue" in receipt["next"]
    [stored] = await proposals(app)
    assert await votes(app, stored.proposal_id) == []
    assert "proposal.confirmation_declined" in await lifecycle(app, stored.proposal_id)
    # Still a normal proposal for the reviewers the rule names.
    result = await app.approvals.approve(principal(app, "user:alice"), stored.proposal_id,
                                         digest=stored.payload_digest, channel="console")
    assert result.proposal.status == "executed"


@pytest.mark.parametrize("mode", MODES)
async def test_an_unticked_box_is_not_a_confirmation(app: App, mode: str) -> None:
    receipt = await propose(app, "user:carol", mode, Requester("accept", confirm=False))
    assert receipt["status"] == "pending_approval"
    [stored] = await proposals(app)
    assert await votes(app, stored.proposal_id) == []


@pytest.mark.parametrize("mode", MODES)
async def test_a_dismissed_question_leaves_it_pending_and_unrecorded(app: App, mode: str) -> None:
    receipt = await propose(app, "user:carol", mode, Requester("cancel"))
    assert receipt["status"] == "pending_approval"
    [stored] = await proposals(app)
    assert "proposal.confirmation_declined" not in await lifecycle(app, stored.proposal_id)


@pytest.mark.parametrize("mode", MODES)
async def test_a_client_without_elicitation_leaves_it_pending(app: App, mode: str) -> None:
    receipt = await propose(app, "user:carol", mode, None)
    assert receipt["status"] == "pending_approval"
    assert "cannot show confirmation requests" in receipt["next"]
    [stored] = await proposals(app)
    assert await votes(app, stored.proposal_id) == []


@pytest.mark.parametrize("mode", MODES)
async def test_an_agent_is_never_asked(app: App, mode: str) -> None:
    requester = Requester()
    receipt = await propose(app, "agent:triage", mode, requester)
    assert receipt["status"] == "pending_approval"
    assert requester.asked == []


@pytest.mark.parametrize("mode", MODES)
async def test_a_rule_without_confirm_never_asks(app: App, mode: str) -> None:
    requester = Requester()
    receipt = await propose(app, "user:carol", mode, requester, command="case.escalate")
    assert receipt["status"] == "pending_approval"
    assert requester.asked == []


async def pending_closure(app: App, proposer: str) -> tuple[str, str]:
    receipt = await app.proposals.submit(principal(app, proposer), "case.close", {
        "case_id": CASE, "expected_version": await case_version(app), "confidence": 0.9})
    proposal_id = receipt.proposal_id
    assert proposal_id is not None
    assert receipt.status == "pending_approval"
    stored = await app.store.read(lambda uow: uow.proposals.get(proposal_id, "acme"))
    assert stored is not None
    return proposal_id, stored.payload_digest


async def test_only_the_human_requester_may_confirm(app: App, db: Path) -> None:
    carols, digest = await pending_closure(app, "user:carol")
    agents, agent_digest = await pending_closure(app, "agent:triage")
    before = snapshot(db)
    with pytest.raises(Forbidden, match="only the person who proposed"):
        await app.approvals.confirm_as_requester(principal(app, "user:alice"), carols,
                                                 accept=True, digest=digest)
    with pytest.raises(Forbidden, match="only the person who proposed"):
        await app.approvals.confirm_as_requester(principal(app, "agent:triage"), agents,
                                                 accept=True, digest=agent_digest)
    with pytest.raises(Refused, match="digest differs"):
        await app.approvals.confirm_as_requester(principal(app, "user:carol"), carols,
                                                 accept=True, digest="0" * 64)
    assert snapshot(db) == before


async def test_a_requester_without_the_rules_roles_is_neither_asked_nor_counted(
    app: App, db: Path
) -> None:
    """Issue 10, item 4: bob (legal) proposed a closure only a supervisor or an
    analyst may approve; his own confirmation must not execute it."""
    requester = Requester()
    receipt = await propose(app, "user:bob", "auto", requester)
    assert receipt["status"] == "pending_approval"
    assert requester.asked == []
    bobs, digest = receipt["proposal_id"], (await proposals(app))[0].payload_digest
    before = snapshot(db)
    with pytest.raises(Forbidden, match="needs the role supervisor or analyst"):
        await app.approvals.confirm_as_requester(principal(app, "user:bob"), bobs,
                                                 accept=True, digest=digest)
    assert snapshot(db) == before


async def test_a_confirmation_is_one_vote_toward_a_larger_quorum(app: App) -> None:
    receipt = await app.proposals.submit(principal(app, "user:carol"), "case.update_risk", {
        "case_id": CASE, "risk_level": "high", "expected_version": await case_version(app),
        "confidence": 0.9})
    proposal_id = receipt.proposal_id
    assert proposal_id is not None
    assert receipt.status == "pending_approval"
    [stored] = await proposals(app)
    confirmed = await app.approvals.confirm_as_requester(
        principal(app, "user:carol"), proposal_id, accept=True, digest=stored.payload_digest)
    assert confirmed is not None
    assert confirmed.proposal.status == "pending_approval"
    assert "supervisor" in confirmed.still_needed
    approved = await app.approvals.approve(principal(app, "user:alice"), proposal_id,
                                           digest=stored.payload_digest, channel="cli")
    assert approved.proposal.status == "executed"


async def test_confirmation_needs_a_rule_that_allows_it(app: App, db: Path) -> None:
    receipt = await app.proposals.submit(principal(app, "user:carol"), "case.escalate", {
        "case_id": CASE, "expected_version": await case_version(app), "confidence": 0.9,
        "evidence_refs": ["ev-acme-001-a"]})
    proposal_id = receipt.proposal_id
    assert proposal_id is not None
    assert receipt.status == "pending_approval"
    stored = await app.store.read(lambda uow: uow.proposals.get(proposal_id, "acme"))
    assert stored is not None
    before = snapshot(db)
    with pytest.raises(Forbidden, match="does not let the requester confirm"):
        await app.approvals.confirm_as_requester(principal(app, "user:carol"),
                                                 stored.proposal_id, accept=True,
                                                 digest=stored.payload_digest)
    assert snapshot(db) == before


async def test_no_confirmation_after_expiry_or_a_decision(
    app: App, db: Path, clock: FixedClock
) -> None:
    decided, digest = await pending_closure(app, "user:carol")
    await app.approvals.reject(principal(app, "user:alice"), decided, reason="not yet",
                               digest=None, channel="console")
    with pytest.raises(Refused, match="is rejected"):
        await app.approvals.confirm_as_requester(principal(app, "user:carol"), decided,
                                                 accept=True, digest=digest)
    late, late_digest = await pending_closure(app, "user:carol")
    clock.advance(timedelta(hours=25))
    with pytest.raises(Refused, match="is expired"):
        await app.approvals.confirm_as_requester(principal(app, "user:carol"), late,
                                                 accept=True, digest=late_digest)
    assert await votes(app, late) == []
