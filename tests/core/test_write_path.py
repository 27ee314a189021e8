"""The seeds' boundary table, in-process against a real store (each adapter)."""

from __future__ import annotations

from pathlib import Path

import pytest

from signoff.policies import PrincipalFacts
from signoff.server.app import App, Database
from signoff.server.services.lifecycle import result_of
from tests.core.helpers import case_version, snapshot, table_counts
from tests.databases import both_adapters

pytestmark = [pytest.mark.anyio, both_adapters]

EVIDENCED = "case-acme-001"
NO_EVIDENCE = "case-acme-003"
GLOBEX_CASE = "case-globex-001"


def escalation(version: int, **extra: object) -> dict[str, object]:
    return {
        "case_id": EVIDENCED,
        "expected_version": version,
        "confidence": 0.8,
        "rationale": "fees hidden from clients",
        "evidence_refs": ["ev-acme-001-a"],
        **extra,
    }


async def test_a_query_repeated_twice_mutates_nothing(
    app: App, agent: PrincipalFacts, db: Database
) -> None:
    before = snapshot(db)
    first = await app.queries.run(agent, "get_case_summary", {"case_id": EVIDENCED})
    second = await app.queries.run(agent, "get_case_summary", {"case_id": EVIDENCED})
    assert first == second
    assert first.model_dump()["case_id"] == EVIDENCED
    assert first.as_of_position == await app.store.read(lambda uow: uow.events.head())
    assert first.lag == 0
    assert snapshot(db) == before


async def test_an_allowed_command_executes_at_once(app: App, agent: PrincipalFacts) -> None:
    receipt = await app.proposals.submit(
        agent,
        "brief.create",
        {
            "case_id": EVIDENCED,
            "summary": "Fee schedule contradicts statements.",
            "confidence": 0.7,
        },
    )
    assert (receipt.outcome, receipt.status) == ("accepted", "executed")
    assert [e.event_type for e in receipt.events] == ["case.brief_added"]
    assert receipt.decision is not None
    assert receipt.decision.rule_id == "brief.allow"
    summary = await app.queries.run(agent, "get_case_summary", {"case_id": EVIDENCED})
    assert summary.model_dump()["version"] == receipt.events[0].aggregate_version


async def test_a_denied_command_is_recorded_rejected_with_rule_and_reason(
    app: App, agent: PrincipalFacts, db: Database
) -> None:
    version = await case_version(app, EVIDENCED)
    before = table_counts(db)
    receipt = await app.proposals.submit(
        agent, "case.escalate", escalation(version, confidence=0.3)
    )
    assert (receipt.outcome, receipt.status) == ("rejected", "rejected")
    assert receipt.decision is not None
    assert receipt.decision.rule_id == "escalate.deny-unsupported"
    assert "confidence" in receipt.reason
    assert await case_version(app, EVIDENCED) == version
    proposal_id = receipt.proposal_id
    assert proposal_id is not None
    stored = await app.store.read(lambda uow: uow.proposals.get(proposal_id, None))
    result = result_of(stored) if stored is not None else None
    assert result is not None
    assert (result.outcome, result.status) == ("rejected", "rejected")
    after = table_counts(db)
    assert (after["events"], after["outbox"]) == (before["events"], before["outbox"])
    assert after["proposals"] == before["proposals"] + 1


async def test_a_command_the_principal_may_not_propose_writes_nothing(
    app: App, agent: PrincipalFacts, db: Database, tmp_path: Path
) -> None:
    policy = tmp_path / "users-only.toml"
    policy.write_text(
        '[[rule]]\nid = "briefs-by-people"\ncommands = ["brief.create"]\neffect = "allow"\n'
        'reason = "people only"\nprincipals = { kinds = ["user"] }\n'
    )
    app.gate.reload(policy, app.domain.command_types())
    before = snapshot(db)
    receipt = await app.proposals.submit(
        agent, "brief.create", {"case_id": EVIDENCED, "summary": "x", "confidence": 0.9}
    )
    assert (receipt.outcome, receipt.proposal_id) == ("rejected", None)
    assert "may not propose" in receipt.reason
    assert snapshot(db) == before


async def test_a_stale_expected_version_is_a_conflict_and_writes_nothing(
    app: App, agent: PrincipalFacts, db: Database
) -> None:
    version = await case_version(app, EVIDENCED)
    before = snapshot(db)
    receipt = await app.proposals.submit(agent, "case.escalate", escalation(version - 1))
    assert (receipt.outcome, receipt.proposal_id) == ("conflict", None)
    assert f"at version {version}" in receipt.reason
    assert snapshot(db) == before


async def test_a_duplicate_idempotency_key_returns_the_same_receipt_and_runs_nothing(
    app: App, agent: PrincipalFacts, db: Database
) -> None:
    args = {
        "case_id": EVIDENCED,
        "summary": "Once only.",
        "confidence": 0.9,
        "idempotency_key": "brief-1",
    }
    first = await app.proposals.submit(agent, "brief.create", args)
    counts = table_counts(db)
    again = await app.proposals.submit(agent, "brief.create", args)
    assert again.outcome == "duplicate_accepted"
    assert (again.proposal_id, again.status, again.events) == (
        first.proposal_id,
        first.status,
        first.events,
    )
    assert table_counts(db) == counts


async def test_the_same_key_with_another_payload_is_a_conflict(
    app: App, agent: PrincipalFacts, db: Database
) -> None:
    await app.proposals.submit(
        agent,
        "brief.create",
        {"case_id": EVIDENCED, "summary": "First.", "confidence": 0.9, "idempotency_key": "k"},
    )
    before = snapshot(db)
    receipt = await app.proposals.submit(
        agent,
        "brief.create",
        {"case_id": EVIDENCED, "summary": "Second.", "confidence": 0.9, "idempotency_key": "k"},
    )
    assert (receipt.outcome, receipt.proposal_id) == ("conflict", None)
    assert "idempotency_key" in receipt.reason
    assert snapshot(db) == before


async def test_escalation_without_evidence_is_rejected(
    app: App, agent: PrincipalFacts, db: Database
) -> None:
    # A case with no evidence: the handler's pre-check refuses, nothing recorded,
    # even when the agent cites (another case's) evidence to get past the policy.
    version = await case_version(app, NO_EVIDENCE)
    before = snapshot(db)
    for refs in ([], ["ev-acme-001-a"]):
        receipt = await app.proposals.submit(
            agent,
            "case.escalate",
            {
                "case_id": NO_EVIDENCE,
                "expected_version": version,
                "confidence": 0.95,
                "evidence_refs": refs,
            },
        )
        assert (receipt.outcome, receipt.proposal_id) == ("rejected", None)
        assert "evidence" in receipt.reason
    assert snapshot(db) == before
    # A case with evidence, but none cited: the policy denies, and that is recorded.
    evidenced_version = await case_version(app, EVIDENCED)
    uncited = await app.proposals.submit(
        agent, "case.escalate", escalation(evidenced_version, evidence_refs=[])
    )
    assert (uncited.outcome, uncited.status) == ("rejected", "rejected")
    assert uncited.decision is not None
    assert uncited.decision.rule_id == "escalate.deny-unsupported"
    assert await case_version(app, NO_EVIDENCE) == version
    assert await case_version(app, EVIDENCED) == evidenced_version


async def test_evidence_of_another_tenant_is_not_found(app: App, agent: PrincipalFacts) -> None:
    version = await case_version(app, EVIDENCED)
    receipt = await app.proposals.submit(
        agent, "case.escalate", escalation(version, evidence_refs=["ev-globex-001-a"])
    )
    assert (receipt.outcome, receipt.reason) == ("rejected", "evidence ev-globex-001-a not found")


async def test_another_tenants_case_is_not_found(app: App, agent: PrincipalFacts) -> None:
    receipt = await app.proposals.submit(
        agent, "brief.create", {"case_id": GLOBEX_CASE, "summary": "x", "confidence": 0.9}
    )
    assert (receipt.outcome, receipt.reason) == ("rejected", f"case {GLOBEX_CASE} not found")


async def test_missing_human_approval_commits_nothing(
    app: App, agent: PrincipalFacts, db: Database
) -> None:
    version = await case_version(app, EVIDENCED)
    events_before = table_counts(db)["events"]
    receipt = await app.proposals.submit(agent, "case.escalate", escalation(version))
    assert (receipt.outcome, receipt.status) == ("requires_approval", "pending_approval")
    assert receipt.decision is not None
    assert receipt.decision.approver_roles == ["supervisor"]
    assert receipt.decision.expires_at is not None
    assert table_counts(db)["events"] == events_before
    assert await case_version(app, EVIDENCED) == version
    outbox = await app.store.read(lambda uow: uow.outbox.find(status="pending", limit=1000))
    assert [m.topic for m in outbox if m.payload.get("proposal_id") == receipt.proposal_id] == [
        "approval.requested"
    ]


async def test_an_approval_executes_the_proposal(
    app: App, agent: PrincipalFacts, alice: PrincipalFacts
) -> None:
    version = await case_version(app, EVIDENCED)
    receipt = await app.proposals.submit(agent, "case.escalate", escalation(version))
    assert receipt.proposal_id is not None
    result = await app.approvals.approve(alice, receipt.proposal_id, digest=None, channel="cli")
    assert result.proposal.status == "executed"
    assert result.execution is not None
    assert [e.event_type for e in result.execution.events] == ["case.escalated"]
    summary = await app.queries.run(agent, "get_case_summary", {"case_id": EVIDENCED})
    assert summary.model_dump()["status"] == "escalated"
