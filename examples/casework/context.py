"""`get_case_context`: everything an agent needs before proposing on a case.

The view is derived, never free text: allowed actions come from the same
lifecycle rules the handlers enforce (so an agent is not invited to propose
what would be rejected), missing evidence from the evidence actually linked,
and policy notes from the demo policy table (SPEC.md) — shown only for the
actions currently allowed, to keep the answer short.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel

from signoff.examples.casework.projections import NOTICES
from signoff.examples.casework.queries import (
    SCAN_LIMIT,
    CaseIdArgs,
    case_evidence,
    load_case,
)
from signoff.examples.casework.state import (
    APPROVABLE_NOTICE,
    CASE,
    CaseStatus,
    RiskLevel,
    can_close,
    can_escalate,
    is_active,
)
from signoff.server import QueryResult, QueryType, ReadModelReader

RECENT_EVENTS: Final = 5
KEY_EVIDENCE: Final = 10

# What the demo policy (policy.toml) does with each tool, in words for a model.
POLICY_NOTES: Final[dict[str, str]] = {
    "create_analyst_brief": "create_analyst_brief runs without approval.",
    "create_notice_draft": "create_notice_draft runs without approval; the draft is not sent.",
    "request_notice_approval": "request_notice_approval waits for 1 legal approver.",
    "send_approved_notice": "send_approved_notice runs without approval, but only for a "
    "notice legal has approved.",
    "propose_risk_update": "propose_risk_update runs without approval only with confidence "
    ">= 0.9 and a level other than critical; otherwise 1 supervisor must approve.",
    "propose_case_escalation": "propose_case_escalation is denied without evidence or with "
    "confidence < 0.5; otherwise 1 supervisor must approve.",
    "propose_case_closure": "propose_case_closure needs 2 distinct approvers: a supervisor "
    "and legal.",
}


class RecentEvent(BaseModel):
    type: str
    at: str
    version: int


class CaseContextResult(QueryResult):
    case_id: str
    status: CaseStatus
    risk_level: RiskLevel
    allegation_summary: str
    key_evidence_refs: list[str]
    missing_evidence: list[str]
    recent_events: list[RecentEvent]
    allowed_actions: list[str]
    policy_notes: list[str]
    version: int


def missing_evidence(risk_level: str, evidence_count: int) -> list[str]:
    if evidence_count == 0:
        return ["no evidence collected: escalation is blocked until evidence is linked"]
    if risk_level in {"high", "critical"} and evidence_count < 2:
        return [f"a {risk_level} risk rating rests on a single evidence item; "
                "corroborating evidence is missing"]
    return []


def allowed_actions(status: str, evidence_count: int, notice_statuses: set[str]) -> list[str]:
    """Tool names a proposal on this case could pass its handler with now."""
    actions: list[str] = []
    if is_active(status):
        actions += ["create_analyst_brief", "create_notice_draft", "propose_risk_update"]
    if can_escalate(status, evidence_count):
        actions.append("propose_case_escalation")
    if can_close(status):
        actions.append("propose_case_closure")
    if notice_statuses & APPROVABLE_NOTICE:
        actions.append("request_notice_approval")
    if "approved" in notice_statuses:
        actions.append("send_approved_notice")
    return actions


def run_case_context(reader: ReadModelReader, args: CaseIdArgs) -> CaseContextResult:
    case = load_case(reader, args.case_id)
    evidence_refs = [str(d["evidence_id"]) for d in case_evidence(reader, args.case_id)]
    notices = reader.find(NOTICES, index=args.case_id, limit=SCAN_LIMIT)
    events = sorted(
        reader.recent_events(CASE.name, args.case_id, limit=RECENT_EVENTS),
        key=lambda e: e.aggregate_version,
        reverse=True,
    )
    actions = allowed_actions(
        case["status"], case["evidence_count"], {str(n["status"]) for n in notices}
    )
    key_refs = evidence_refs[:KEY_EVIDENCE]
    return CaseContextResult(
        case_id=case["case_id"],
        status=case["status"],
        risk_level=case["risk_level"],
        allegation_summary=case["allegation_summary"],
        key_evidence_refs=key_refs,
        missing_evidence=missing_evidence(case["risk_level"], case["evidence_count"]),
        recent_events=[
            RecentEvent(
                type=e.event_type, at=e.occurred_at.isoformat(), version=e.aggregate_version
            )
            for e in events[:RECENT_EVENTS]
        ],
        allowed_actions=actions,
        policy_notes=[POLICY_NOTES[a] for a in actions],
        version=case["version"],
        source_refs=key_refs,
    )


GET_CASE_CONTEXT: Final = QueryType[CaseIdArgs, CaseContextResult](
    name="get_case_context",
    args=CaseIdArgs,
    result=CaseContextResult,
    run=run_case_context,
    description="Start here before proposing anything on a case: its status, risk, allegation, "
    "key evidence ids to cite, what evidence is missing, its last events, the actions you may "
    "propose now and which of them need human approval, and the version to pass as "
    "expected_version.",
)
