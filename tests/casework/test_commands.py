"""Command handlers: every acceptance and every rejection, on seeded demo state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from pydantic import ValidationError

from signoff.examples.casework import events as ev
from signoff.examples.casework.commands import COMMANDS
from signoff.examples.casework.state import CASE
from signoff.server.domain import NewEvent, Rejection
from tests.casework.fakes import World


@pytest.fixture
def world() -> World:
    return World.seeded()


def events_of(outcome: Sequence[NewEvent] | Rejection) -> Sequence[NewEvent]:
    assert not isinstance(outcome, Rejection), outcome.reason
    return outcome


def reason_of(outcome: Sequence[NewEvent] | Rejection) -> str:
    assert isinstance(outcome, Rejection), f"expected a rejection, got {outcome}"
    return outcome.reason


def close(world: World, case_id: str) -> None:
    world.execute("case.close", {"case_id": case_id})


def draft(world: World, case_id: str = "case-acme-001") -> str:
    draft_id, _ = world.execute("notice.create_draft", {"case_id": case_id, "body": "Dear Sir"})
    return draft_id


# --- brief.create -------------------------------------------------------------


def test_brief_is_numbered_from_the_case_count(world: World) -> None:
    _, first = world.decide("brief.create", {"case_id": "case-acme-001", "summary": "Fees."})
    assert events_of(first) == [
        NewEvent(ev.CASE_BRIEF_ADDED, {"brief_number": 1, "summary": "Fees."})
    ]
    world.execute("brief.create", {"case_id": "case-acme-001", "summary": "Fees."})
    _, second = world.decide("brief.create", {"case_id": "case-acme-001", "summary": "More."})
    assert events_of(second)[0].payload["brief_number"] == 2


def test_brief_for_a_missing_case_is_rejected(world: World) -> None:
    _, outcome = world.decide("brief.create", {"case_id": "case-acme-404", "summary": "x"})
    assert reason_of(outcome) == "case case-acme-404 not found"


def test_brief_for_another_tenants_case_is_rejected(world: World) -> None:
    _, outcome = world.decide("brief.create", {"case_id": "case-globex-001", "summary": "x"})
    assert reason_of(outcome) == "case case-globex-001 not found"


def test_brief_for_a_closed_case_is_rejected(world: World) -> None:
    close(world, "case-acme-001")
    _, outcome = world.decide("brief.create", {"case_id": "case-acme-001", "summary": "x"})
    assert "is closed" in reason_of(outcome)


# --- notice.create_draft ------------------------------------------------------


def test_draft_records_case_and_body(world: World) -> None:
    _, outcome = world.decide("notice.create_draft", {"case_id": "case-acme-002", "body": "B"})
    assert events_of(outcome) == [
        NewEvent(ev.NOTICE_DRAFTED, {"case_id": "case-acme-002", "body": "B"})
    ]


def test_draft_for_a_missing_case_is_rejected(world: World) -> None:
    _, outcome = world.decide("notice.create_draft", {"case_id": "case-nope", "body": "B"})
    assert reason_of(outcome) == "case case-nope not found"


def test_draft_for_another_tenants_case_is_rejected(world: World) -> None:
    _, outcome = world.decide("notice.create_draft", {"case_id": "case-globex-002", "body": "B"})
    assert reason_of(outcome) == "case case-globex-002 not found"
    _, same = world.decide("notice.create_draft", {"case_id": "case-globex-002", "body": "B"},
                           tenant="globex")
    assert events_of(same)


def test_draft_for_a_closed_case_is_rejected(world: World) -> None:
    close(world, "case-acme-003")
    _, outcome = world.decide("notice.create_draft", {"case_id": "case-acme-003", "body": "B"})
    assert "is closed" in reason_of(outcome)


# --- notice.approve and notice.send -------------------------------------------


def test_a_draft_can_be_approved_then_sent(world: World) -> None:
    draft_id = draft(world)
    _, approval = world.decide("notice.approve", {"draft_id": draft_id})
    assert events_of(approval) == [NewEvent(ev.NOTICE_APPROVED, {"case_id": "case-acme-001"})]
    world.execute("notice.approve", {"draft_id": draft_id})
    _, sending = world.decide("notice.send", {"draft_id": draft_id})
    assert events_of(sending) == [
        NewEvent(ev.NOTICE_SENT, {"case_id": "case-acme-001", "body": "Dear Sir"})
    ]


def test_a_draft_of_a_closed_case_can_be_neither_approved_nor_sent(world: World) -> None:
    """Closing is final for everything attached to the case (issue 10, item 10)."""
    drafted = draft(world, "case-acme-003")
    approved = draft(world, "case-acme-003")
    world.execute("notice.approve", {"draft_id": approved})
    close(world, "case-acme-003")
    _, approval = world.decide("notice.approve", {"draft_id": drafted})
    assert reason_of(approval) == "case case-acme-003 is closed and accepts no further actions"
    _, sending = world.decide("notice.send", {"draft_id": approved})
    assert reason_of(sending) == "case case-acme-003 is closed and accepts no further actions"


def test_sending_an_unapproved_notice_is_rejected(world: World) -> None:
    draft_id = draft(world)
    _, outcome = world.decide("notice.send", {"draft_id": draft_id})
    assert "has not been approved by legal" in reason_of(outcome)


def test_sending_twice_is_rejected(world: World) -> None:
    draft_id = draft(world)
    world.execute("notice.approve", {"draft_id": draft_id})
    world.execute("notice.send", {"draft_id": draft_id})
    _, outcome = world.decide("notice.send", {"draft_id": draft_id})
    assert "already been sent" in reason_of(outcome)


def test_approving_twice_is_rejected(world: World) -> None:
    draft_id = draft(world)
    world.execute("notice.approve", {"draft_id": draft_id})
    _, outcome = world.decide("notice.approve", {"draft_id": draft_id})
    assert "is approved; only a draft" in reason_of(outcome)


@pytest.mark.parametrize("command", ["notice.approve", "notice.send"])
def test_notice_commands_on_a_missing_notice_are_rejected(world: World, command: str) -> None:
    _, outcome = world.decide(command, {"draft_id": "notice-999"})
    assert reason_of(outcome) == "notice notice-999 not found"


def test_notice_of_another_tenant_is_absent(world: World) -> None:
    draft_id = draft(world)
    _, outcome = world.decide("notice.approve", {"draft_id": draft_id}, tenant="globex")
    assert reason_of(outcome) == f"notice {draft_id} not found"


# --- case.update_risk ------------------------------------------------------------


def test_risk_update_records_from_and_to(world: World) -> None:
    _, outcome = world.decide("case.update_risk",
                              {"case_id": "case-acme-001", "risk_level": "high"})
    assert events_of(outcome) == [
        NewEvent(ev.CASE_RISK_UPDATED, {"from": "medium", "to": "high"})
    ]


def test_unchanged_risk_is_rejected(world: World) -> None:
    _, outcome = world.decide("case.update_risk",
                              {"case_id": "case-acme-001", "risk_level": "medium"})
    assert reason_of(outcome) == "case case-acme-001 is already at risk level medium"


def test_risk_update_on_a_closed_case_is_rejected(world: World) -> None:
    close(world, "case-acme-001")
    _, outcome = world.decide("case.update_risk",
                              {"case_id": "case-acme-001", "risk_level": "high"})
    assert "is closed" in reason_of(outcome)


def test_risk_update_on_a_missing_case_is_rejected(world: World) -> None:
    _, outcome = world.decide("case.update_risk", {"case_id": "case-x", "risk_level": "high"})
    assert reason_of(outcome) == "case case-x not found"


# --- case.escalate ------------------------------------------------------------------


def test_escalating_a_case_with_evidence(world: World) -> None:
    _, outcome = world.decide("case.escalate", {"case_id": "case-acme-001"})
    assert events_of(outcome) == [NewEvent(ev.CASE_ESCALATED, {"from_status": "open"})]


def test_escalating_a_case_under_review(world: World) -> None:
    world.execute("brief.create", {"case_id": "case-acme-002", "summary": "Unlicensed."})
    _, outcome = world.decide("case.escalate", {"case_id": "case-acme-002"})
    assert events_of(outcome)[0].payload == {"from_status": "under_review"}


def test_escalation_without_evidence_is_rejected(world: World) -> None:
    _, outcome = world.decide("case.escalate", {"case_id": "case-acme-003"})
    assert reason_of(outcome) == (
        "case case-acme-003 has no evidence; an escalation must be supported by collected evidence"
    )


def test_escalating_an_escalated_case_is_rejected(world: World) -> None:
    world.execute("case.escalate", {"case_id": "case-acme-001"})
    _, outcome = world.decide("case.escalate", {"case_id": "case-acme-001"})
    assert "is escalated; only an open or under-review case" in reason_of(outcome)


def test_escalating_a_closed_case_is_rejected(world: World) -> None:
    close(world, "case-acme-001")
    _, outcome = world.decide("case.escalate", {"case_id": "case-acme-001"})
    assert "is closed; only an open" in reason_of(outcome)


# --- case.close -----------------------------------------------------------------------


@pytest.mark.parametrize("before", [[], ["brief.create"], ["case.escalate"]])
def test_closing_from_every_open_status(world: World, before: list[str]) -> None:
    for command in before:
        payload: dict[str, Any] = {"case_id": "case-acme-001"}
        if command == "brief.create":
            payload["summary"] = "x"
        world.execute(command, payload)
    status = world.load("acme", CASE, "case-acme-001").state.status
    _, outcome = world.decide("case.close", {"case_id": "case-acme-001"})
    assert events_of(outcome) == [NewEvent(ev.CASE_CLOSED, {"from_status": status})]


def test_closing_a_closed_case_is_rejected(world: World) -> None:
    close(world, "case-acme-001")
    _, outcome = world.decide("case.close", {"case_id": "case-acme-001"})
    assert reason_of(outcome) == "case case-acme-001 is already closed"


def test_closing_a_missing_case_is_rejected(world: World) -> None:
    _, outcome = world.decide("case.close", {"case_id": "case-acme-999"})
    assert reason_of(outcome) == "case case-acme-999 not found"


# --- payload validation ---------------------------------------------------------------


def test_handlers_are_deterministic(world: World) -> None:
    _, first = world.decide("brief.create", {"case_id": "case-acme-001", "summary": "x"})
    _, again = world.decide("brief.create", {"case_id": "case-acme-001", "summary": "x"})
    assert first == again


@pytest.mark.parametrize(
    ("command", "payload"),
    [
        ("brief.create", {"case_id": "case-acme-001", "summary": "x", "brief_id": "b-1"}),
        ("brief.create", {"case_id": "", "summary": "x"}),
        ("brief.create", {"case_id": "case acme", "summary": "x"}),
        ("brief.create", {"case_id": "c" * 65, "summary": "x"}),
        ("brief.create", {"case_id": "case-acme-001", "summary": "   "}),
        ("brief.create", {"case_id": "case-acme-001", "summary": "x" * 4001}),
        ("notice.create_draft", {"case_id": "case-acme-001"}),
        ("notice.create_draft", {"case_id": "case-acme-001", "body": "b" * 4001}),
        ("notice.approve", {"draft_id": ""}),
        ("notice.send", {"draft_id": "n-1", "expected_version": 2}),
        ("case.update_risk", {"case_id": "case-acme-001", "risk_level": "severe"}),
        ("case.escalate", {"case_id": "case-acme-001", "rationale": "because"}),
        ("case.close", {}),
    ],
)
def test_malformed_payloads_are_refused(
    world: World, command: str, payload: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        world.decide(command, payload)


def test_bounds_are_inclusive() -> None:
    brief = next(c for c in COMMANDS if c.name == "brief.create")
    ok = brief.payload.model_validate({"case_id": "c" * 64, "summary": "s" * 4000})
    assert len(ok.model_dump()["summary"]) == 4000
