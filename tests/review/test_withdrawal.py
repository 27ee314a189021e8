"""Withdrawal by the proposer (`WithdrawalService`): only its own proposal,
only in its tenant, only while nobody has approved it; recorded with who and
when; votes on a withdrawn proposal are refused; the queue lists it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from signoff.server.app import App
from signoff.server.clock import FixedClock
from signoff.server.errors import Forbidden, NotFound, Refused
from signoff.server.services.lifecycle import Lifecycle, result_of
from signoff.server.services.withdrawal import WithdrawalService
from signoff.store.records import ProposalEvent
from tests.conftest import open_app, principal
from tests.review.helpers import CASE, case_version, cli, escalation, json_out, snapshot
from tests.review.test_confirmation import POLICY

pytestmark = pytest.mark.anyio


def withdrawals(app: App) -> WithdrawalService:
    return WithdrawalService(app.store, Lifecycle(app.clock, app.ids), app.clock)


async def trail(app: App, proposal_id: str) -> list[ProposalEvent]:
    return await app.store.read(lambda uow: uow.proposals.events(proposal_id))


async def test_the_proposer_withdraws_a_pending_proposal_with_who_and_when(
    app: App, clock: FixedClock
) -> None:
    proposal_id = await escalation(app)
    clock.advance(timedelta(minutes=3))
    withdrawn = await withdrawals(app).withdraw(
        principal(app, "agent:triage"), proposal_id, reason="proposed on the wrong case")
    assert withdrawn.status == "withdrawn"
    assert withdrawn.status_reason == "withdrawn by agent:triage: proposed on the wrong case"
    assert withdrawn.updated_at == clock.now
    last = (await trail(app, proposal_id))[-1]
    assert (last.event_type, last.actor_id, last.occurred_at) == (
        "proposal.withdrawn", "agent:triage", clock.now)
    assert last.payload["from"] == "pending_approval"
    stored = await app.store.read(lambda uow: uow.proposals.get(proposal_id, None))
    result = result_of(stored) if stored is not None else None
    assert result is not None
    assert (result.status, result.outcome, result.recorded_at) == (
        "withdrawn", "rejected", clock.now)
    receipt = await app.proposals.receipt(principal(app, "agent:triage"), proposal_id)
    assert receipt is not None
    assert receipt.status == "withdrawn"


async def test_withdrawing_twice_changes_nothing_the_second_time(app: App, db: Path) -> None:
    proposal_id = await escalation(app)
    service = withdrawals(app)
    await service.withdraw(principal(app, "agent:triage"), proposal_id)
    before = snapshot(db)
    again = await service.withdraw(principal(app, "agent:triage"), proposal_id)
    assert again.status == "withdrawn"
    assert snapshot(db) == before


async def test_someone_elses_proposal_is_refused_and_another_tenants_is_not_found(
    app: App, db: Path
) -> None:
    proposal_id = await escalation(app)
    before = snapshot(db)
    with pytest.raises(Forbidden, match="only its proposer, agent:triage"):
        await withdrawals(app).withdraw(principal(app, "user:carol"), proposal_id)
    # The same agent, acting for another tenant, cannot even see it.
    with pytest.raises(NotFound, match="not found"):
        await withdrawals(app).withdraw(principal(app, "agent:triage", "globex"), proposal_id)
    with pytest.raises(NotFound):
        await withdrawals(app).withdraw(principal(app, "agent:triage"), "prop_nope")
    assert snapshot(db) == before


async def test_a_decided_proposal_cannot_be_withdrawn(app: App, db: Path) -> None:
    proposal_id = await escalation(app)
    await app.approvals.approve(principal(app, "user:alice"), proposal_id, digest=None,
                                channel="cli")
    before = snapshot(db)
    with pytest.raises(Refused, match="is executed; only a proposal waiting for approval"):
        await withdrawals(app).withdraw(principal(app, "agent:triage"), proposal_id)
    assert snapshot(db) == before


async def test_an_expired_proposal_cannot_be_withdrawn(
    app: App, db: Path, clock: FixedClock
) -> None:
    proposal_id = await escalation(app)
    clock.advance(timedelta(days=2))  # past the deadline, not yet swept
    before = snapshot(db)
    with pytest.raises(Refused, match="expired"):
        await withdrawals(app).withdraw(principal(app, "agent:triage"), proposal_id)
    assert snapshot(db) == before


async def test_one_approval_toward_a_larger_quorum_already_blocks_withdrawal(
    db: Path, clock: FixedClock
) -> None:
    app = await open_app(db, clock, policy=POLICY)  # risk: a supervisor and an analyst
    try:
        receipt = await app.proposals.submit(principal(app, "agent:triage"), "case.update_risk", {
            "case_id": CASE, "risk_level": "high", "expected_version": await case_version(app),
            "confidence": 0.9})
        assert receipt.proposal_id is not None
        vote = await app.approvals.approve(principal(app, "user:alice"), receipt.proposal_id,
                                           digest=None, channel="cli")
        assert vote.proposal.status == "pending_approval"
        before = snapshot(db)
        with pytest.raises(Refused, match="already approved by user:alice"):
            await withdrawals(app).withdraw(principal(app, "agent:triage"), receipt.proposal_id)
        assert snapshot(db) == before
    finally:
        await app.close()


async def test_a_rejection_does_not_count_as_an_approval(db: Path, clock: FixedClock) -> None:
    app = await open_app(db, clock, policy=POLICY)
    try:
        receipt = await app.proposals.submit(principal(app, "agent:triage"), "case.escalate", {
            "case_id": CASE, "expected_version": await case_version(app), "confidence": 0.8,
            "evidence_refs": ["ev-acme-001-a"]})
        assert receipt.proposal_id is not None
        withdrawn = await withdrawals(app).withdraw(principal(app, "agent:triage"),
                                                    receipt.proposal_id)
        assert withdrawn.status == "withdrawn"
    finally:
        await app.close()


async def test_votes_on_a_withdrawn_proposal_are_refused(app: App, db: Path) -> None:
    proposal_id = await escalation(app)
    await withdrawals(app).withdraw(principal(app, "agent:triage"), proposal_id)
    before = snapshot(db)
    with pytest.raises(Refused, match="is withdrawn, not pending approval"):
        await app.approvals.approve(principal(app, "user:alice"), proposal_id, digest=None,
                                    channel="cli")
    with pytest.raises(Refused, match="is withdrawn"):
        await app.approvals.reject(principal(app, "user:alice"), proposal_id, reason="no",
                                   digest=None, channel="cli")
    assert snapshot(db) == before
    vote = await cli("review", "approve", proposal_id, "--db", str(db), "--as", "user:alice")
    assert vote.exit_code != 0
    assert "withdrawn" in vote.output
    assert snapshot(db) == before


async def test_review_list_shows_withdrawn_proposals(app: App, db: Path) -> None:
    withdrawn = await escalation(app)
    await withdrawals(app).withdraw(principal(app, "agent:triage"), withdrawn)
    result = await cli("review", "list", "--db", str(db), "--status", "withdrawn", "--json")
    assert result.exit_code == 0, result.output
    [row] = json_out(result)
    assert (row["proposal_id"], row["status"]) == (withdrawn, "withdrawn")
    pending = json_out(await cli("review", "list", "--db", str(db), "--json"))
    assert withdrawn not in [r["proposal_id"] for r in pending]
