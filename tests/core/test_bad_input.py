"""Every bad input an agent can send: a clear, structured refusal, nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from signoff.policies import PrincipalFacts
from signoff.server.app import App, Database
from signoff.server.errors import InvalidInput, NotFound
from tests.core.helpers import snapshot
from tests.databases import both_adapters

pytestmark = [pytest.mark.anyio, both_adapters]

OK_ESCALATION: dict[str, Any] = {
    "case_id": "case-acme-001",
    "expected_version": 4,
    "confidence": 0.8,
    "evidence_refs": ["ev-acme-001-a"],
    "rationale": "why",
}

BAD: list[tuple[str, str, dict[str, Any], str]] = [
    ("missing payload field", "case.escalate", {**OK_ESCALATION, "case_id": None}, "case_id"),
    (
        "no case_id at all",
        "case.escalate",
        {k: v for k, v in OK_ESCALATION.items() if k != "case_id"},
        "case_id",
    ),
    ("extra field", "case.escalate", {**OK_ESCALATION, "approve": True}, "approve"),
    ("wrong type", "case.escalate", {**OK_ESCALATION, "case_id": ["x"]}, "case_id"),
    ("empty id", "case.escalate", {**OK_ESCALATION, "case_id": ""}, "case_id"),
    ("confidence above 1", "case.escalate", {**OK_ESCALATION, "confidence": 1.5}, "confidence"),
    (
        "confidence missing",
        "case.escalate",
        {k: v for k, v in OK_ESCALATION.items() if k != "confidence"},
        "confidence",
    ),
    (
        "rationale too long",
        "case.escalate",
        {**OK_ESCALATION, "rationale": "x" * 4001},
        "rationale",
    ),
    (
        "too many evidence refs",
        "case.escalate",
        {**OK_ESCALATION, "evidence_refs": [f"ev-{i}" for i in range(51)]},
        "evidence_refs",
    ),
    (
        "bad idempotency key",
        "case.escalate",
        {**OK_ESCALATION, "idempotency_key": "spaces are bad"},
        "idempotency_key",
    ),
    (
        "version missing",
        "case.escalate",
        {k: v for k, v in OK_ESCALATION.items() if k != "expected_version"},
        "expected_version",
    ),
    (
        "negative version",
        "case.escalate",
        {**OK_ESCALATION, "expected_version": -1},
        "expected_version",
    ),
    (
        "version where none applies",
        "brief.create",
        {"case_id": "case-acme-001", "summary": "s", "confidence": 0.9, "expected_version": 3},
        "expected_version",
    ),
    (
        "unknown risk level",
        "case.update_risk",
        {
            "case_id": "case-acme-001",
            "risk_level": "apocalyptic",
            "expected_version": 4,
            "confidence": 0.9,
        },
        "risk_level",
    ),
    (
        "lone surrogate",
        "brief.create",
        {"case_id": "case-acme-001", "summary": "bad \ud800 text", "confidence": 0.9},
        "(arguments)",
    ),
    (
        "oversized body",
        "notice.create_draft",
        {"case_id": "case-acme-001", "body": "x" * 70_000, "confidence": 0.9},
        "(arguments)",
    ),
]


@pytest.mark.parametrize(("label", "command", "arguments", "field"), BAD, ids=[b[0] for b in BAD])
async def test_bad_arguments_are_a_validation_error_and_write_nothing(
    app: App,
    agent: PrincipalFacts,
    db: Database,
    label: str,
    command: str,
    arguments: dict[str, Any],
    field: str,
) -> None:
    before = snapshot(db)
    receipt = await app.proposals.submit(agent, command, arguments)
    assert receipt.outcome == "validation_error", label
    assert receipt.is_error
    assert receipt.proposal_id is None
    assert any(field in p.field for p in receipt.problems), receipt.problems
    assert snapshot(db) == before


async def test_an_unknown_command_type_is_refused(
    app: App, agent: PrincipalFacts, db: Database
) -> None:
    before = snapshot(db)
    receipt = await app.proposals.submit(agent, "case.delete", {"case_id": "x", "confidence": 1})
    assert (receipt.outcome, receipt.proposal_id) == ("rejected", None)
    assert "unknown command type" in receipt.reason
    assert snapshot(db) == before


async def test_an_unknown_case_is_not_found_and_writes_nothing(
    app: App, agent: PrincipalFacts, db: Database
) -> None:
    before = snapshot(db)
    receipt = await app.proposals.submit(
        agent, "case.escalate", {**OK_ESCALATION, "case_id": "case-nope"}
    )
    assert (receipt.outcome, receipt.reason) == ("rejected", "case case-nope not found")
    assert snapshot(db) == before


@pytest.mark.parametrize(
    ("name", "arguments", "error"),
    [
        ("get_case_summary", {}, InvalidInput),
        ("get_case_summary", {"case_id": "case-acme-001", "extra": 1}, InvalidInput),
        ("list_cases", {"limit": 0}, InvalidInput),
        ("list_cases", {"limit": 10_000}, InvalidInput),
        ("get_case_summary", {"case_id": "case-globex-001"}, NotFound),
        ("get_case_summary", {"case_id": "case-nope"}, NotFound),
        ("search_evidence", {"case_id": "case-globex-001"}, NotFound),
        ("drop_tables", {}, NotFound),
    ],
)
async def test_bad_queries_are_refused_and_write_nothing(
    app: App,
    agent: PrincipalFacts,
    db: Database,
    name: str,
    arguments: dict[str, Any],
    error: type[Exception],
) -> None:
    before = snapshot(db)
    with pytest.raises(error):
        await app.queries.run(agent, name, arguments)
    assert snapshot(db) == before


async def test_not_found_says_the_same_for_absent_and_other_tenant(
    app: App, agent: PrincipalFacts
) -> None:
    with pytest.raises(NotFound) as theirs:
        await app.queries.run(agent, "get_case_summary", {"case_id": "case-globex-001"})
    with pytest.raises(NotFound) as absent:
        await app.queries.run(agent, "get_case_summary", {"case_id": "case-globex-009"})
    assert str(theirs.value).replace("001", "") == str(absent.value).replace("009", "")


async def test_a_nul_byte_in_an_id_is_refused_and_writes_nothing(
    app: App, agent: PrincipalFacts, alice: PrincipalFacts, db: Database
) -> None:
    """No store holds such an id, so the answer is the one for an unknown id
    (or a validation error), on either adapter; never a store error."""
    before = snapshot(db)
    receipt = await app.proposals.submit(
        agent, "brief.create", {"case_id": "case-acme-001\x00", "summary": "s", "confidence": 0.9})
    assert receipt.is_error
    assert receipt.proposal_id is None
    assert receipt.problems[0].field == "case_id"
    with pytest.raises((NotFound, InvalidInput)):
        await app.queries.run(agent, "get_case_summary", {"case_id": "case-acme-001\x00"})
    with pytest.raises(NotFound):
        await app.approvals.approve(alice, "prop-1\x00", digest=None, channel="cli")
    assert await app.proposals.receipt(agent, "prop-1\x00") is None
    assert snapshot(db) == before
