"""Read models of the casework domain, built from committed events.

All but `case_timeline` are inline (committed with the events they reflect);
`case_timeline` is asynchronous, caught up by the projector after the commit.

Each projection folds events with the same `apply` the aggregates use, so a
read model cannot disagree with the state the executor decides on. Every
document records the aggregate version it reflects; an event at or below that
version is a replay (rebuild, redelivery) and changes nothing. An event for a
document that was never created is ignored too: repairing a gap is the
projector's job (replay), not something a single event can do.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Final

from signoff.examples.casework import events as ev
from signoff.examples.casework.state import (
    CaseState,
    EvidenceState,
    NoticeState,
    apply_case,
    apply_evidence,
    apply_notice,
    as_case_status,
    as_notice_status,
    as_risk_level,
)
from signoff.server import EventEnvelope, Projection, ReadModelWriter

CASE_SUMMARY: Final = "case_summary"
EVIDENCE_INDEX: Final = "evidence"
NOTICES: Final = "notices"
CASE_TIMELINE: Final = "case_timeline"


def _is_replay(doc: dict[str, Any] | None, event: EventEnvelope) -> bool:
    return doc is not None and int(doc["version"]) >= event.aggregate_version


def _is_orphan(doc: dict[str, Any] | None, event: EventEnvelope, creating: str) -> bool:
    return doc is None and event.event_type != creating


# --- case_summary: one document per case, indexed by status ------------------


def _case_from_doc(doc: dict[str, Any] | None) -> CaseState:
    if doc is None:
        return CaseState()
    return CaseState(
        status=as_case_status(doc["status"]),
        title=doc["title"],
        allegation_summary=doc["allegation_summary"],
        risk_level=as_risk_level(doc["risk_level"]),
        assigned_team=doc["assigned_team"],
        evidence_ids=tuple(doc["evidence_ids"]),
        briefs=int(doc["briefs"]),
    )


def apply_case_summary(writer: ReadModelWriter, event: EventEnvelope) -> None:
    """The case list and summary read this. Indexed by status so that
    `list_cases(status=...)` is a lookup, not a scan."""
    doc = writer.get(event.aggregate_id)
    if _is_replay(doc, event) or _is_orphan(doc, event, ev.CASE_OPENED):
        return
    state = apply_case(_case_from_doc(doc), event)
    new_doc = {
        "case_id": event.aggregate_id,
        "title": state.title,
        "allegation_summary": state.allegation_summary,
        "status": state.status,
        "risk_level": state.risk_level,
        "assigned_team": state.assigned_team,
        "evidence_ids": list(state.evidence_ids),
        "evidence_count": state.evidence_count,
        "briefs": state.briefs,
        "last_updated_at": event.occurred_at.isoformat(),
        "version": event.aggregate_version,
    }
    writer.put(event.aggregate_id, new_doc, index=state.status)


# --- evidence: one document per item, indexed by its case --------------------


def apply_evidence_index(writer: ReadModelWriter, event: EventEnvelope) -> None:
    doc = writer.get(event.aggregate_id)
    if _is_replay(doc, event) or _is_orphan(doc, event, ev.EVIDENCE_COLLECTED):
        return
    state = apply_evidence(EvidenceState(), event)
    if state.case_id is None:
        return
    new_doc = {
        "evidence_id": event.aggregate_id,
        **asdict(state),
        "version": event.aggregate_version,
    }
    writer.put(event.aggregate_id, new_doc, index=state.case_id)


# --- notices: one document per notice, indexed by its case -------------------


def _notice_from_doc(doc: dict[str, Any] | None) -> NoticeState:
    if doc is None:
        return NoticeState()
    return NoticeState(
        status=as_notice_status(doc["status"]),
        case_id=doc["case_id"],
        body=doc["body"],
        approval_event_id=doc["approval_event_id"],
    )


def apply_notices(writer: ReadModelWriter, event: EventEnvelope) -> None:
    """Tells the context view which notice actions a case has open."""
    doc = writer.get(event.aggregate_id)
    if _is_replay(doc, event) or _is_orphan(doc, event, ev.NOTICE_DRAFTED):
        return
    state = apply_notice(_notice_from_doc(doc), event)
    new_doc = {
        "draft_id": event.aggregate_id,
        **asdict(state),
        "version": event.aggregate_version,
    }
    writer.put(event.aggregate_id, new_doc, index=state.case_id)


# --- case_timeline: the last events of each case, built asynchronously ---------

TIMELINE_LENGTH: Final = 20


def apply_case_timeline(writer: ReadModelWriter, event: EventEnvelope) -> None:
    """A case's recent history for people reading it. Nothing decides on it,
    so it may lag: the async projector builds it after the commit (queries
    reading it report that lag)."""
    doc = writer.get(event.aggregate_id)
    if _is_replay(doc, event) or _is_orphan(doc, event, ev.CASE_OPENED):
        return
    entry = {
        "position": event.position,
        "version": event.aggregate_version,
        "type": event.event_type,
        "actor": event.actor_id,
        "at": event.occurred_at.isoformat(),
    }
    entries = [*(doc or {}).get("entries", []), entry][-TIMELINE_LENGTH:]
    writer.put(event.aggregate_id, {
        "case_id": event.aggregate_id,
        "entries": entries,
        "event_count": int((doc or {}).get("event_count", 0)) + 1,
        "version": event.aggregate_version,
    })


PROJECTIONS: Final = (
    Projection(name=CASE_SUMMARY, handles=ev.CASE_EVENTS, apply=apply_case_summary),
    Projection(name=EVIDENCE_INDEX, handles=ev.EVIDENCE_EVENTS, apply=apply_evidence_index),
    Projection(name=NOTICES, handles=ev.NOTICE_EVENTS, apply=apply_notices),
)

# Built after the commit by the projector; nothing decides on them.
ASYNC_PROJECTIONS: Final = (
    Projection(name=CASE_TIMELINE, handles=ev.CASE_EVENTS, apply=apply_case_timeline,
               mode="async"),
)
