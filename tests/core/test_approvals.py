"""Votes: who may cast them, quorum, expiry, and approvals that come too late."""

from __future__ import annotations

from datetime import timedelta

import pytest

from signoff.policies import PrincipalFacts
from signoff.server.app import App, Database
from signoff.server.clock import FixedClock
from signoff.server.errors import Forbidden, InvalidInput, NotFound, Refused
from tests.conftest import principal
from tests.core.helpers import case_version, pending_closure, pending_escalation, snapshot
from tests.databases import both_adapters

pytestmark = [pytest.mark.anyio, both_adapters]

CASE = "case-acme-001"


async def test_an_agent_can_never_vote(
    app: App, agent: PrincipalFacts, carol: PrincipalFacts
) -> None:
    proposal_id = await pending_closure(app, carol)
    with pytest.raises(Forbidden, match="agents cannot"):
        await app.approvals.approve(agent, proposal_id, digest=None, channel="cli")


async def test_the_proposer_cannot_vote_on_its_own_proposal(
    app: App, alice: PrincipalFacts
) -> None:
    proposal_id = await pending_closure(app, alice)
    with pytest.raises(Forbidden, match="you proposed this"):
        await app.approvals.approve(alice, proposal_id, digest=None, channel="cli")


async def test_a_voter_without_a_required_role_is_refused(
    app: App, agent: PrincipalFacts, carol: PrincipalFacts
) -> None:
    proposal_id = await pending_escalation(app, agent)
    with pytest.raises(Forbidden, match="needs the role supervisor"):
        await app.approvals.approve(carol, proposal_id, digest=None, channel="cli")


async def test_a_voter_of_another_tenant_does_not_find_it(app: App, agent: PrincipalFacts) -> None:
    proposal_id = await pending_escalation(app, agent)
    dana = principal(app, "user:dana", "globex")
    with pytest.raises(NotFound):
        await app.approvals.approve(dana, proposal_id, digest=None, channel="cli")


async def test_two_approvers_needed_one_vote_is_not_enough(
    app: App, carol: PrincipalFacts, alice: PrincipalFacts, bob: PrincipalFacts
) -> None:
    proposal_id = await pending_closure(app, carol)
    first = await app.approvals.approve(alice, proposal_id, digest=None, channel="cli")
    assert first.proposal.status == "pending_approval"
    assert first.execution is None
    assert "legal" in first.still_needed
    assert await case_version(app, CASE) == first.proposal.expected_version
    second = await app.approvals.approve(bob, proposal_id, digest=None, channel="console")
    assert second.proposal.status == "executed"
    assert second.execution is not None
    assert [e.event_type for e in second.execution.events] == ["case.closed"]


async def test_one_person_cannot_vote_twice(
    app: App, carol: PrincipalFacts, alice: PrincipalFacts
) -> None:
    proposal_id = await pending_closure(app, carol)
    await app.approvals.approve(alice, proposal_id, digest=None, channel="cli")
    with pytest.raises(Refused, match="already voted"):
        await app.approvals.approve(alice, proposal_id, digest=None, channel="cli")


async def test_a_vote_names_the_digest_it_saw(
    app: App, agent: PrincipalFacts, alice: PrincipalFacts
) -> None:
    proposal_id = await pending_escalation(app, agent)
    with pytest.raises(Refused, match="digest"):
        await app.approvals.approve(alice, proposal_id, digest="0" * 64, channel="console")
    receipt = await app.proposals.receipt(agent, proposal_id)
    assert receipt is not None
    assert receipt.status == "pending_approval"
    stored = await app.store.read(lambda uow: uow.proposals.get(proposal_id, "acme"))
    assert stored is not None
    result = await app.approvals.approve(
        alice, proposal_id, digest=stored.payload_digest, channel="console"
    )
    assert result.proposal.status == "executed"


async def test_a_rejection_needs_a_reason_and_ends_the_proposal(
    app: App, agent: PrincipalFacts, alice: PrincipalFacts
) -> None:
    proposal_id = await pending_escalation(app, agent)
    with pytest.raises(InvalidInput):
        await app.approvals.reject(alice, proposal_id, reason="  ", digest=None, channel="cli")
    result = await app.approvals.reject(
        alice, proposal_id, reason="evidence is thin", digest=None, channel="cli"
    )
    assert result.proposal.status == "rejected"
    assert "evidence is thin" in result.proposal.status_reason
    with pytest.raises(Refused, match="is rejected"):
        await app.approvals.approve(alice, proposal_id, digest=None, channel="cli")


async def test_an_expired_proposal_cannot_be_approved(
    app: App, agent: PrincipalFacts, alice: PrincipalFacts, clock: FixedClock, db: Database
) -> None:
    proposal_id = await pending_escalation(app, agent)
    clock.advance(timedelta(hours=24, seconds=1))
    before = snapshot(db)
    with pytest.raises(Refused, match="is expired"):
        await app.approvals.approve(alice, proposal_id, digest=None, channel="cli")
    assert snapshot(db) == before  # refused at vote time; the sweep marks it
    assert [p.proposal_id for p in await app.approvals.expire_due()] == [proposal_id]
    receipt = await app.proposals.receipt(agent, proposal_id)
    assert receipt is not None
    assert receipt.status == "expired"


async def test_a_service_cannot_vote_even_with_a_role(
    app: App, agent: PrincipalFacts
) -> None:
    proposal_id = await pending_escalation(app, agent)
    robot = PrincipalFacts(id="service:bot", kind="service", tenant="acme", roles=("supervisor",))
    with pytest.raises(Forbidden, match="only people"):
        await app.approvals.approve(robot, proposal_id, digest=None, channel="api")


async def test_the_expiry_sweep_expires_only_overdue_proposals(
    app: App, agent: PrincipalFacts, carol: PrincipalFacts, clock: FixedClock
) -> None:
    old = await pending_escalation(app, agent)
    clock.advance(timedelta(hours=20))
    young = await pending_closure(app, carol)
    clock.advance(timedelta(hours=5))
    expired = await app.approvals.expire_due()
    assert [p.proposal_id for p in expired] == [old]
    assert (await app.proposals.receipt(carol, young)).status == "pending_approval"  # type: ignore[union-attr]


async def test_an_approval_after_the_aggregate_moved_on_is_a_conflict(
    app: App, agent: PrincipalFacts, alice: PrincipalFacts
) -> None:
    proposal_id = await pending_escalation(app, agent)
    moved = await app.proposals.submit(
        agent, "brief.create", {"case_id": CASE, "summary": "New facts.", "confidence": 0.9}
    )
    assert moved.status == "executed"
    version = await case_version(app, CASE)
    result = await app.approvals.approve(alice, proposal_id, digest=None, channel="cli")
    assert result.proposal.status == "conflict"
    assert "expected" in result.proposal.status_reason
    assert result.execution is not None
    assert result.execution.events == []
    assert await case_version(app, CASE) == version
