"""Folding events into aggregate states, facts for the policy, and the upcaster."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from signoff.examples.casework import events as ev
from signoff.examples.casework.state import (
    CASE,
    EVIDENCE,
    NOTICE,
    CaseState,
    EvidenceState,
    NoticeState,
)
from signoff.store.records import EventEnvelope
from tests.casework.fakes import envelope

OPENED = {
    "title": "Northgate: undisclosed fees",
    "allegation_summary": "Layered fees not disclosed.",
    "assigned_team": "markets-conduct",
    "risk_level": "medium",
}


def case_events(*specs: tuple[str, dict[str, Any]]) -> list[EventEnvelope]:
    return [
        envelope(t, p, version=i, event_version=ev.EVENT_VERSIONS[t])
        for i, (t, p) in enumerate(specs, start=1)
    ]


def fold_case(events: Sequence[EventEnvelope]) -> CaseState:
    state = CASE.initial()
    for e in events:
        state = CASE.apply(state, e)
    return state


def notice_events(*types: str) -> list[EventEnvelope]:
    payloads = {ev.NOTICE_DRAFTED: {"case_id": "case-acme-001", "body": "Dear Northgate"}}
    return [
        envelope(t, payloads.get(t, {"case_id": "case-acme-001"}), aggregate_type="notice",
                 aggregate_id="notice-1", version=i)
        for i, t in enumerate(types, start=1)
    ]


def fold_notice(events: Sequence[EventEnvelope]) -> NoticeState:
    state = NOTICE.initial()
    for e in events:
        state = NOTICE.apply(state, e)
    return state


def test_initial_case_does_not_exist() -> None:
    state = CASE.initial()
    assert not state.exists
    assert CASE.status(state) is None
    assert CASE.facts(state) == {"risk_level": None, "evidence_count": 0, "assigned_team": ""}


def test_opened_case_is_open_with_its_facts() -> None:
    state = fold_case(case_events((ev.CASE_OPENED, OPENED)))
    assert CASE.status(state) == "open"
    assert state.title == OPENED["title"]
    assert state.allegation_summary == OPENED["allegation_summary"]
    assert CASE.facts(state) == {
        "risk_level": "medium", "evidence_count": 0, "assigned_team": "markets-conduct",
    }


def test_full_case_lifecycle() -> None:
    state = fold_case(case_events(
        (ev.CASE_OPENED, OPENED),
        (ev.CASE_EVIDENCE_LINKED, {"evidence_id": "ev-1"}),
        (ev.CASE_EVIDENCE_LINKED, {"evidence_id": "ev-2"}),
        (ev.CASE_BRIEF_ADDED, {"brief_number": 1, "summary": "Fees hidden."}),
        (ev.CASE_RISK_UPDATED, {"from": "medium", "to": "high"}),
        (ev.CASE_ESCALATED, {"from_status": "under_review"}),
        (ev.CASE_BRIEF_ADDED, {"brief_number": 2, "summary": "More."}),
        (ev.CASE_CLOSED, {"from_status": "escalated"}),
    ))
    assert state.status == "closed"
    assert state.risk_level == "high"
    assert state.evidence_ids == ("ev-1", "ev-2")
    assert state.briefs == 2
    assert CASE.facts(state)["evidence_count"] == 2


def test_first_brief_puts_an_open_case_under_review() -> None:
    state = fold_case(case_events(
        (ev.CASE_OPENED, OPENED), (ev.CASE_BRIEF_ADDED, {"brief_number": 1, "summary": "x"}),
    ))
    assert state.status == "under_review"


def test_brief_on_an_escalated_case_keeps_it_escalated() -> None:
    state = fold_case(case_events(
        (ev.CASE_OPENED, OPENED), (ev.CASE_EVIDENCE_LINKED, {"evidence_id": "ev-1"}),
        (ev.CASE_ESCALATED, {"from_status": "open"}),
        (ev.CASE_BRIEF_ADDED, {"brief_number": 1, "summary": "x"}),
    ))
    assert state.status == "escalated"


def test_linking_the_same_evidence_twice_counts_once() -> None:
    state = fold_case(case_events(
        (ev.CASE_OPENED, OPENED),
        (ev.CASE_EVIDENCE_LINKED, {"evidence_id": "ev-1"}),
        (ev.CASE_EVIDENCE_LINKED, {"evidence_id": "ev-1"}),
    ))
    assert state.evidence_count == 1


def test_unknown_event_type_leaves_state_unchanged() -> None:
    opened = fold_case(case_events((ev.CASE_OPENED, OPENED)))
    assert CASE.apply(opened, envelope("case.renamed", {"title": "x"}, version=2)) == opened


def test_corrupt_risk_level_fails_loudly() -> None:
    with pytest.raises(ValueError, match="unexpected value 'severe'"):
        fold_case(case_events((ev.CASE_OPENED, {**OPENED, "risk_level": "severe"})))


def test_evidence_state_from_collected() -> None:
    env = envelope(
        ev.EVIDENCE_COLLECTED,
        {"case_id": "case-acme-001", "title": "Fee schedule", "summary": "s", "kind": "document",
         "collected_at": "2024-02-12"},
        aggregate_type="evidence", aggregate_id="ev-1",
    )
    state = EVIDENCE.apply(EVIDENCE.initial(), env)
    assert state == EvidenceState("case-acme-001", "Fee schedule", "s", "document", "2024-02-12")
    assert EVIDENCE.status(state) == "collected"
    assert EVIDENCE.facts(state) == {"case_id": "case-acme-001", "kind": "document"}
    assert EVIDENCE.status(EVIDENCE.initial()) is None


def test_evidence_without_collection_date_uses_the_recording_time() -> None:
    env = envelope(ev.EVIDENCE_COLLECTED,
                   {"case_id": "c", "title": "t", "summary": "s", "kind": "k"},
                   aggregate_type="evidence", aggregate_id="ev-1")
    assert EVIDENCE.apply(EVIDENCE.initial(), env).collected_at == env.occurred_at.isoformat()


def test_notice_lifecycle_and_facts() -> None:
    drafted = fold_notice(notice_events(ev.NOTICE_DRAFTED))
    assert NOTICE.status(drafted) == "drafted"
    assert drafted.approval_event_id is None
    assert NOTICE.facts(drafted) == {"case_id": "case-acme-001", "status": "drafted"}
    events = notice_events(ev.NOTICE_DRAFTED, ev.NOTICE_APPROVED, ev.NOTICE_SENT,
                           ev.NOTICE_DELIVERED)
    approved = fold_notice(events[:2])
    assert approved.status == "approved"
    assert approved.approval_event_id == events[1].event_id
    assert fold_notice(events[:3]).status == "sent"
    delivered = fold_notice(events)
    assert delivered.status == "delivered"
    assert delivered.body == "Dear Northgate"
    assert delivered.approval_event_id == events[1].event_id


def test_initial_notice_does_not_exist() -> None:
    assert NOTICE.status(NOTICE.initial()) is None
    assert NOTICE.facts(NOTICE.initial()) == {"case_id": None, "status": None}


# --- upcasting ----------------------------------------------------------------


def test_case_opened_is_at_version_2_and_has_an_upcaster_from_1() -> None:
    assert ev.EVENT_VERSIONS[ev.CASE_OPENED] == 2
    assert set(ev.UPCASTERS) == {(ev.CASE_OPENED, 1)}


def test_upcaster_adds_unassigned_team_to_a_v1_payload() -> None:
    v1 = {k: v for k, v in OPENED.items() if k != "assigned_team"}
    v2 = ev.UPCASTERS[(ev.CASE_OPENED, 1)](v1)
    assert v2 == {**v1, "assigned_team": "unassigned"}
    assert "assigned_team" not in v1  # the stored payload is not mutated


def test_upcaster_keeps_a_team_already_present() -> None:
    assert ev.upcast_case_opened_v1(dict(OPENED))["assigned_team"] == "markets-conduct"


def test_a_v1_case_upcast_then_folded_belongs_to_no_team() -> None:
    v1 = {k: v for k, v in OPENED.items() if k != "assigned_team"}
    upcast = envelope(ev.CASE_OPENED, ev.upcast_case_opened_v1(v1), event_version=2)
    state = CASE.apply(CASE.initial(), upcast)
    assert state.assigned_team == "unassigned"
    assert CASE.facts(state)["assigned_team"] == "unassigned"
