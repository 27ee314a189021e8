"""Command handlers of the casework domain and the command types agents propose.

Handlers are pure: state + payload + context in, events or a rejection out. They
run twice — as the pre-check when a proposal arrives and again in the executor
on the state current at execution — so every rule that makes a command invalid
lives here, not in the policy (the policy decides who may; the handler decides
whether it can happen at all). Rejection reasons reach the model verbatim, so
they say what is wrong and what would make it right, and nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from signoff.examples.casework import events as ev
from signoff.examples.casework.payloads import (
    CloseCase,
    CreateBrief,
    CreateNoticeDraft,
    EscalateCase,
    RecordNoticeDelivery,
    RequestNoticeApproval,
    SendApprovedNotice,
    UpdateRisk,
)
from signoff.examples.casework.state import (
    APPROVABLE_NOTICE,
    CASE,
    ESCALATABLE,
    NOTICE,
    CaseState,
    NoticeState,
    can_close,
    is_active,
)
from signoff.server import CommandType, DecideContext, NewEvent, Rejection

Decision = Sequence[NewEvent] | Rejection


def _case_missing(case_id: str) -> Rejection:
    return Rejection(f"case {case_id} not found")


def _case_closed(case_id: str) -> Rejection:
    return Rejection(f"case {case_id} is closed and accepts no further actions")


def decide_create_brief(state: CaseState, payload: CreateBrief, ctx: DecideContext) -> Decision:
    """Briefs are numbered from the case's own count so that re-deciding the
    same command on the same state yields the same event (no ids in handlers)."""
    if not state.exists:
        return _case_missing(payload.case_id)
    if not is_active(state.status):
        return _case_closed(payload.case_id)
    brief = {"brief_number": state.briefs + 1, "summary": payload.summary}
    return [NewEvent(ev.CASE_BRIEF_ADDED, brief)]


def decide_create_notice_draft(
    state: NoticeState, payload: CreateNoticeDraft, ctx: DecideContext
) -> Decision:
    """The notice is a new aggregate; the case it concerns is another one, so
    it is checked through the (tenant-scoped) loader: another tenant's case
    id is as absent as a made-up one."""
    if state.exists:
        return Rejection(f"notice {ctx.aggregate_id} already exists")
    case = ctx.loader.load(CASE, payload.case_id)
    if not case.exists:
        return _case_missing(payload.case_id)
    if not is_active(case.state.status):
        return _case_closed(payload.case_id)
    return [NewEvent(ev.NOTICE_DRAFTED, {"case_id": payload.case_id, "body": payload.body})]


def _if_case_closed(state: NoticeState, ctx: DecideContext) -> Rejection | None:
    """A notice lives and dies with its case: once the case is closed, its
    drafts can no longer be approved nor sent."""
    case = ctx.loader.load(CASE, state.case_id)
    if case.exists and not is_active(case.state.status):
        return _case_closed(state.case_id)
    return None


def decide_approve_notice(
    state: NoticeState, payload: RequestNoticeApproval, ctx: DecideContext
) -> Decision:
    """Executing this command is legal's approval: the policy holds it for a
    legal reviewer, so by the time it runs a human has signed off."""
    if not state.exists:
        return Rejection(f"notice {payload.draft_id} not found")
    if state.status not in APPROVABLE_NOTICE:
        return Rejection(f"notice {payload.draft_id} is {state.status}; only a draft can be "
                         "submitted for approval")
    closed = _if_case_closed(state, ctx)
    if closed is not None:
        return closed
    return [NewEvent(ev.NOTICE_APPROVED, {"case_id": state.case_id})]


def decide_send_notice(
    state: NoticeState, payload: SendApprovedNotice, ctx: DecideContext
) -> Decision:
    """The policy allows sending outright; this check is what makes that safe.
    Only a committed approval event counts, never a status alone."""
    if not state.exists:
        return Rejection(f"notice {payload.draft_id} not found")
    if state.status in {"sent", "delivered"}:
        return Rejection(f"notice {payload.draft_id} has already been sent")
    if state.approval_event_id is None or state.status != "approved":
        return Rejection(f"notice {payload.draft_id} has not been approved by legal; "
                         "use request_notice_approval first")
    closed = _if_case_closed(state, ctx)
    if closed is not None:
        return closed
    return [NewEvent(ev.NOTICE_SENT, {"case_id": state.case_id, "body": state.body})]


def decide_record_delivery(
    state: NoticeState, payload: RecordNoticeDelivery, ctx: DecideContext
) -> Decision:
    """The notification consumer's record that a sent notice reached its
    sink. Only a sent notice can be delivered, and only once: a second
    record is refused, so redeliveries can never add a second fact."""
    if not state.exists:
        return Rejection(f"notice {payload.draft_id} not found")
    if state.status == "delivered":
        return Rejection(f"notice {payload.draft_id} has already been delivered")
    if state.status != "sent":
        return Rejection(f"notice {payload.draft_id} is {state.status}; only a sent notice "
                         "can be delivered")
    return [NewEvent(ev.NOTICE_DELIVERED, {"case_id": state.case_id})]


def decide_update_risk(state: CaseState, payload: UpdateRisk, ctx: DecideContext) -> Decision:
    if not state.exists:
        return _case_missing(payload.case_id)
    if not is_active(state.status):
        return _case_closed(payload.case_id)
    if state.risk_level == payload.risk_level:
        return Rejection(f"case {payload.case_id} is already at risk level {payload.risk_level}")
    change = {"from": state.risk_level, "to": payload.risk_level}
    return [NewEvent(ev.CASE_RISK_UPDATED, change)]


def decide_escalate(state: CaseState, payload: EscalateCase, ctx: DecideContext) -> Decision:
    if not state.exists:
        return _case_missing(payload.case_id)
    if state.status not in ESCALATABLE:
        return Rejection(f"case {payload.case_id} is {state.status}; only an open or "
                         "under-review case can be escalated")
    if state.evidence_count == 0:
        return Rejection(f"case {payload.case_id} has no evidence; an escalation must be "
                         "supported by collected evidence")
    return [NewEvent(ev.CASE_ESCALATED, {"from_status": state.status})]


def decide_close(state: CaseState, payload: CloseCase, ctx: DecideContext) -> Decision:
    if not state.exists:
        return _case_missing(payload.case_id)
    if not can_close(state.status):
        return Rejection(f"case {payload.case_id} is already closed")
    return [NewEvent(ev.CASE_CLOSED, {"from_status": state.status})]


_PROPOSAL = (
    " This records a proposal, not an effect: the policy may run it at once, hold it for "
    "human approval, or refuse it; the receipt says which and what happens next."
)

CREATE_BRIEF: Final = CommandType[CreateBrief, CaseState](
    name="brief.create",
    tool="create_analyst_brief",
    payload=CreateBrief,
    aggregate=CASE,
    decide=decide_create_brief,
    description="Add an analyst brief (your written assessment, citing evidence ids) to a case "
    "that is not closed. The first brief moves an open case to under_review. Use it to record "
    "reasoning before proposing a risk change or escalation." + _PROPOSAL,
    target=lambda p: p.case_id,
    summary=lambda p: f"Add a brief to {p.case_id}: {p.summary}",
    review_fields=("summary",),
)

CREATE_NOTICE_DRAFT: Final = CommandType[CreateNoticeDraft, NoticeState](
    name="notice.create_draft",
    tool="create_notice_draft",
    payload=CreateNoticeDraft,
    aggregate=NOTICE,
    decide=decide_create_notice_draft,
    description="Draft a notice to the regulated party of a case that is not closed. The draft "
    "is not sent: the receipt's aggregate_id is the new draft_id, which request_notice_approval "
    "takes next." + _PROPOSAL,
    summary=lambda p: f"Draft a notice on {p.case_id}: {p.body}",
    review_fields=("body",),
)

APPROVE_NOTICE: Final = CommandType[RequestNoticeApproval, NoticeState](
    name="notice.approve",
    tool="request_notice_approval",
    payload=RequestNoticeApproval,
    aggregate=NOTICE,
    decide=decide_approve_notice,
    description="Submit a notice draft to legal for approval. Legal reviews it; once they "
    "approve, the notice can be sent with send_approved_notice." + _PROPOSAL,
    target=lambda p: p.draft_id,
    requires_version=True,
    summary=lambda p: "Approve a notice's text for sending (legal sign-off)",
    review_fields=("body", "case_id"),
)

SEND_NOTICE: Final = CommandType[SendApprovedNotice, NoticeState](
    name="notice.send",
    tool="send_approved_notice",
    payload=SendApprovedNotice,
    aggregate=NOTICE,
    decide=decide_send_notice,
    description="Send a notice that legal has approved. Refused for a draft that was never "
    "approved. Delivery happens once, after the proposal executes." + _PROPOSAL,
    target=lambda p: p.draft_id,
    requires_version=True,
    summary=lambda p: "Send a notice legal approved",
    review_fields=("body", "case_id"),
)

RECORD_DELIVERY: Final = CommandType[RecordNoticeDelivery, NoticeState](
    name="notice.record_delivery",
    tool="record_notice_delivery",
    payload=RecordNoticeDelivery,
    aggregate=NOTICE,
    decide=decide_record_delivery,
    description="Record that a sent notice was delivered by the notification sink. Proposed "
    "only by the notification service (service:notifier) after the delivery happened; the "
    "policy allows it to service principals alone." + _PROPOSAL,
    target=lambda p: p.draft_id,
    summary=lambda p: "Record that a sent notice was delivered",
    review_fields=("case_id",),
)

UPDATE_RISK: Final = CommandType[UpdateRisk, CaseState](
    name="case.update_risk",
    tool="propose_risk_update",
    payload=UpdateRisk,
    aggregate=CASE,
    decide=decide_update_risk,
    description="Change the risk level of a case that is not closed, when the evidence supports "
    "a different level. Cite the evidence and state your confidence honestly." + _PROPOSAL,
    target=lambda p: p.case_id,
    requires_version=True,
    summary=lambda p: f"Set the risk level of {p.case_id} to {p.risk_level}",
    review_fields=("risk_level", "title"),
)

ESCALATE_CASE: Final = CommandType[EscalateCase, CaseState](
    name="case.escalate",
    tool="propose_case_escalation",
    payload=EscalateCase,
    aggregate=CASE,
    decide=decide_escalate,
    description="Escalate an open or under-review case that has evidence to the enforcement "
    "team. Cases without evidence cannot be escalated; cite the evidence ids that justify "
    "it." + _PROPOSAL,
    target=lambda p: p.case_id,
    requires_version=True,
    summary=lambda p: f"Escalate {p.case_id} to the enforcement team",
    review_fields=("title", "allegation_summary", "risk_level"),
)

CLOSE_CASE: Final = CommandType[CloseCase, CaseState](
    name="case.close",
    tool="propose_case_closure",
    payload=CloseCase,
    aggregate=CASE,
    decide=decide_close,
    description="Close a case that is open, under review or escalated, when no further action is "
    "warranted. Closing is final: a closed case accepts no further actions." + _PROPOSAL,
    target=lambda p: p.case_id,
    requires_version=True,
    summary=lambda p: f"Close {p.case_id} for good (a closed case takes no further actions)",
    review_fields=("title", "allegation_summary", "risk_level"),
)

COMMANDS: Final[tuple[CommandType[Any, Any], ...]] = (
    CREATE_BRIEF,
    CREATE_NOTICE_DRAFT,
    APPROVE_NOTICE,
    SEND_NOTICE,
    UPDATE_RISK,
    ESCALATE_CASE,
    CLOSE_CASE,
    RECORD_DELIVERY,
)
