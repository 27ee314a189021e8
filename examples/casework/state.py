"""Aggregate states of the casework domain and how committed events fold into them.

States are frozen dataclasses: `apply` returns a new state, so a folded state can
be shared between the executor, the policy gate and projections without anyone
mutating what another reads. The lifecycle rules that both command handlers and
the agent's context view need (what may be escalated, closed, approved) live here
once, so the tools an agent is told it may use are the ones a handler accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final, Literal, cast, get_args

from signoff.examples.casework import events as ev
from signoff.server import AggregateType, EventEnvelope

CaseStatus = Literal["open", "under_review", "escalated", "closed"]
RiskLevel = Literal["low", "medium", "high", "critical"]
NoticeStatus = Literal["drafted", "approval_requested", "approved", "sent", "delivered"]

CASE_STATUSES: Final[tuple[str, ...]] = get_args(CaseStatus)
RISK_LEVELS: Final[tuple[str, ...]] = get_args(RiskLevel)
NOTICE_STATUSES: Final[tuple[str, ...]] = get_args(NoticeStatus)

ESCALATABLE: Final[frozenset[str]] = frozenset({"open", "under_review"})
CLOSABLE: Final[frozenset[str]] = frozenset({"open", "under_review", "escalated"})
APPROVABLE_NOTICE: Final[frozenset[str]] = frozenset({"drafted", "approval_requested"})


def _check(value: Any, allowed: tuple[str, ...]) -> Any:
    """A stored value outside its Literal means a corrupt or unknown event,
    which must fail loudly rather than silently become a state."""
    if value not in allowed:
        raise ValueError(f"unexpected value {value!r}; expected one of {allowed}")
    return value


def as_case_status(value: Any) -> CaseStatus:
    return cast(CaseStatus, _check(value, CASE_STATUSES))


def as_risk_level(value: Any) -> RiskLevel:
    return cast(RiskLevel, _check(value, RISK_LEVELS))


def as_notice_status(value: Any) -> NoticeStatus:
    return cast(NoticeStatus, _check(value, NOTICE_STATUSES))


# --- case -------------------------------------------------------------------


@dataclass(frozen=True)
class CaseState:
    """A case as the executor sees it. `status is None` means never opened
    (aggregate version 0). Evidence is its own aggregate, so the case counts
    the evidence linked to it through its own `case.evidence_linked` events."""

    status: CaseStatus | None = None
    title: str = ""
    allegation_summary: str = ""
    risk_level: RiskLevel | None = None
    assigned_team: str = ""
    evidence_ids: tuple[str, ...] = ()
    briefs: int = 0

    @property
    def exists(self) -> bool:
        return self.status is not None

    @property
    def evidence_count(self) -> int:
        return len(self.evidence_ids)


def can_escalate(status: str | None, evidence_count: int) -> bool:
    """Escalation needs an open case under consideration and at least one
    piece of evidence to justify it."""
    return status in ESCALATABLE and evidence_count > 0


def can_close(status: str | None) -> bool:
    return status in CLOSABLE


def is_active(status: str | None) -> bool:
    """An existing case that still accepts work (briefs, drafts, risk changes)."""
    return status is not None and status != "closed"


def apply_case(state: CaseState, event: EventEnvelope) -> CaseState:
    """Fold one committed case event. Payloads are at their current version
    (the framework upcasts older ones first). Unknown types leave the state
    unchanged so that folding stays total."""
    p = event.payload
    match event.event_type:
        case ev.CASE_OPENED:
            return CaseState(
                status="open",
                title=str(p["title"]),
                allegation_summary=str(p["allegation_summary"]),
                risk_level=as_risk_level(p["risk_level"]),
                assigned_team=str(p["assigned_team"]),
            )
        case ev.CASE_EVIDENCE_LINKED:
            evidence_id = str(p["evidence_id"])
            if evidence_id in state.evidence_ids:
                return state
            return replace(state, evidence_ids=(*state.evidence_ids, evidence_id))
        case ev.CASE_BRIEF_ADDED:
            # An analyst writing a brief is what puts an open case under review.
            status = "under_review" if state.status == "open" else state.status
            return replace(state, briefs=state.briefs + 1, status=status)
        case ev.CASE_RISK_UPDATED:
            return replace(state, risk_level=as_risk_level(p["to"]))
        case ev.CASE_ESCALATED:
            return replace(state, status="escalated")
        case ev.CASE_CLOSED:
            return replace(state, status="closed")
    return state


def case_facts(state: CaseState) -> dict[str, Any]:
    """What a policy rule may test of a case (`aggregate.fields`)."""
    return {
        "risk_level": state.risk_level,
        "evidence_count": state.evidence_count,
        "assigned_team": state.assigned_team,
    }


CASE: Final = AggregateType[CaseState](
    name="case",
    initial=CaseState,
    apply=apply_case,
    status=lambda s: s.status,
    facts=case_facts,
)


# --- evidence -----------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceState:
    """One collected item. Only demo data and seeds create evidence; agents
    cite it (evidence_refs) but cannot add or change it."""

    case_id: str | None = None
    title: str = ""
    summary: str = ""
    kind: str = ""
    collected_at: str = ""

    @property
    def exists(self) -> bool:
        return self.case_id is not None


def apply_evidence(state: EvidenceState, event: EventEnvelope) -> EvidenceState:
    p = event.payload
    if event.event_type == ev.EVIDENCE_COLLECTED:
        return EvidenceState(
            case_id=str(p["case_id"]),
            title=str(p["title"]),
            summary=str(p["summary"]),
            kind=str(p["kind"]),
            # When it was collected in the world, not when it was recorded.
            collected_at=str(p.get("collected_at") or event.occurred_at.isoformat()),
        )
    return state


EVIDENCE: Final = AggregateType[EvidenceState](
    name="evidence",
    initial=EvidenceState,
    apply=apply_evidence,
    status=lambda s: "collected" if s.exists else None,
    facts=lambda s: {"case_id": s.case_id, "kind": s.kind},
)


# --- notice -------------------------------------------------------------------


@dataclass(frozen=True)
class NoticeState:
    """A notice to a regulated party. `approval_event_id` is the committed
    `notice.approved` event: sending is valid only if the stream records one,
    whatever the status field says."""

    status: NoticeStatus | None = None
    case_id: str = ""
    body: str = ""
    approval_event_id: str | None = None

    @property
    def exists(self) -> bool:
        return self.status is not None


def apply_notice(state: NoticeState, event: EventEnvelope) -> NoticeState:
    p = event.payload
    match event.event_type:
        case ev.NOTICE_DRAFTED:
            return NoticeState(status="drafted", case_id=str(p["case_id"]), body=str(p["body"]))
        case ev.NOTICE_APPROVED:
            return replace(state, status="approved", approval_event_id=event.event_id)
        case ev.NOTICE_SENT:
            return replace(state, status="sent")
        case ev.NOTICE_DELIVERED:
            return replace(state, status="delivered")
    return state


NOTICE: Final = AggregateType[NoticeState](
    name="notice",
    initial=NoticeState,
    apply=apply_notice,
    status=lambda s: s.status,
    facts=lambda s: {"case_id": s.case_id or None, "status": s.status},
)
