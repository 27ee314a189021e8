"""get_case_context: the agent's view of one case, derived from read models."""

from __future__ import annotations

import pytest

from signoff.examples.casework.context import (
    POLICY_NOTES,
    CaseContextResult,
    allowed_actions,
    missing_evidence,
    run_case_context,
)
from signoff.examples.casework.queries import CaseIdArgs
from signoff.server.domain import QueryNotFound
from tests.casework.fakes import World

CASE_ACTIONS = ["create_analyst_brief", "create_notice_draft", "propose_risk_update"]


@pytest.fixture
def world() -> World:
    return World.seeded()


def context(world: World, case_id: str, tenant: str = "acme") -> CaseContextResult:
    return run_case_context(world.models.reader(tenant), CaseIdArgs(case_id=case_id))


def test_context_of_a_case_with_evidence(world: World) -> None:
    view = context(world, "case-acme-001")
    assert view.case_id == "case-acme-001"
    assert (view.status, view.risk_level, view.version) == ("open", "medium", 4)
    assert view.allegation_summary.startswith("Northgate Securities is alleged")
    refs = ["ev-acme-001-a", "ev-acme-001-b", "ev-acme-001-c"]
    assert view.key_evidence_refs == refs
    assert view.source_refs == refs
    assert view.missing_evidence == []
    assert view.allowed_actions == [
        *CASE_ACTIONS, "propose_case_escalation", "propose_case_closure",
    ]
    assert view.policy_notes == [POLICY_NOTES[a] for a in view.allowed_actions]


def test_recent_events_are_the_last_five_newest_first(world: World) -> None:
    world.execute("brief.create", {"case_id": "case-acme-001", "summary": "x"})
    world.execute("case.update_risk", {"case_id": "case-acme-001", "risk_level": "high"})
    view = context(world, "case-acme-001")
    events = view.recent_events
    assert [(e.type, e.version) for e in events] == [
        ("case.risk_updated", 6), ("case.brief_added", 5), ("case.evidence_linked", 4),
        ("case.evidence_linked", 3), ("case.evidence_linked", 2),
    ]
    stream = world.streams[("acme", "case", "case-acme-001")]
    assert events[0].at == stream[-1].occurred_at.isoformat()
    assert view.version == 6
    assert view.status == "under_review"


def test_a_case_without_evidence_cannot_be_escalated(world: World) -> None:
    view = context(world, "case-acme-003")
    assert view.key_evidence_refs == []
    assert view.missing_evidence == [
        "no evidence collected: escalation is blocked until evidence is linked"
    ]
    assert view.allowed_actions == [*CASE_ACTIONS, "propose_case_closure"]
    assert POLICY_NOTES["propose_case_escalation"] not in view.policy_notes


def test_an_escalated_case_can_only_be_closed_or_worked_on(world: World) -> None:
    world.execute("case.escalate", {"case_id": "case-acme-002"})
    assert context(world, "case-acme-002").allowed_actions == [
        *CASE_ACTIONS, "propose_case_closure",
    ]


def test_a_closed_case_allows_nothing(world: World) -> None:
    world.execute("case.close", {"case_id": "case-acme-001"})
    view = context(world, "case-acme-001")
    assert (view.status, view.allowed_actions, view.policy_notes) == ("closed", [], [])


def test_notice_actions_follow_the_cases_notices(world: World) -> None:
    draft_id, _ = world.execute("notice.create_draft",
                                {"case_id": "case-acme-001", "body": "B"})
    actions = context(world, "case-acme-001").allowed_actions
    assert "request_notice_approval" in actions
    assert "send_approved_notice" not in actions
    world.execute("notice.approve", {"draft_id": draft_id})
    actions = context(world, "case-acme-001").allowed_actions
    assert "request_notice_approval" not in actions
    assert "send_approved_notice" in actions
    other = context(world, "case-acme-002").allowed_actions
    assert "send_approved_notice" not in other


@pytest.mark.parametrize("case_id", ["case-globex-001", "case-acme-404"])
def test_context_of_an_absent_case_is_not_found(world: World, case_id: str) -> None:
    with pytest.raises(QueryNotFound):
        context(world, case_id)


def test_missing_evidence_rules() -> None:
    assert missing_evidence("low", 0) == [
        "no evidence collected: escalation is blocked until evidence is linked"
    ]
    assert missing_evidence("high", 1) == [
        "a high risk rating rests on a single evidence item; corroborating evidence is missing"
    ]
    assert missing_evidence("critical", 2) == []
    assert missing_evidence("medium", 1) == []


def test_allowed_actions_match_what_the_handlers_accept() -> None:
    """Each tool offered in a status is one the handler would not refuse for
    lifecycle reasons; each withheld one is."""
    world = World.seeded()
    for status_setup, case_id in [((), "case-acme-001"), (("case.escalate",), "case-acme-002")]:
        for command in status_setup:
            world.execute(command, {"case_id": case_id})
        view = context(world, case_id)
        offered = set(view.allowed_actions)
        checks = {
            "propose_case_escalation": ("case.escalate", {"case_id": case_id}),
            "propose_case_closure": ("case.close", {"case_id": case_id}),
        }
        for tool, (command, payload) in checks.items():
            _, outcome = world.decide(command, payload)
            assert (tool in offered) == isinstance(outcome, list), (tool, outcome)
    assert allowed_actions("closed", 3, {"approved"}) == ["send_approved_notice"]
