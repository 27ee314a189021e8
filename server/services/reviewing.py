"""The reviewer's view of proposals: the queue, and one proposal in full.

Shared by `signoff review`, the web console and in-client confirmation, so a
reviewer sees the same facts whichever door they use. Everything is read in
one snapshot. "What approving would change" runs the command handler's pure
`decide` on the aggregate's current state without committing anything, folds
the events it would produce into a copy of that state, and puts the two side
by side with the read models' current documents; it is generic over the
Domain (no knowledge of casework).

What an agent wrote (rationale, confidence, evidence refs) is shown as its
claim; evidence titles come from the read models, never from the agent.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from signoff.server.app import App
from signoff.server.domain import CommandType, DecideContext, Rejection
from signoff.server.services.approvals import ballots_of
from signoff.server.services.quorum import still_needed
from signoff.server.services.receipts import EventView
from signoff.server.state.aggregates import TxStateLoader
from signoff.store.ports import UnitOfWork
from signoff.store.records import DecisionRecord, EventEnvelope, ProposalRecord, Vote

EVIDENCE_PROJECTION = "evidence"
QUEUE_LIMIT = 200
# Queue filters: a proposal status, or "all".
STATUSES = ("pending_approval", "approved", "executed", "rejected", "expired", "conflict",
            "failed", "all")


class QueueItem(BaseModel):
    """One row of the approval queue (`review list`, the console's table)."""

    proposal_id: str
    tenant_id: str
    status: str
    command_type: str
    aggregate_type: str
    aggregate_id: str
    proposer_id: str
    proposer_kind: str
    rule_id: str
    approver_roles: list[str]
    approvers_required: int
    votes: int
    still_needed: str
    created_at: datetime
    age_seconds: int
    expires_at: datetime | None
    expires_in_seconds: int | None
    overdue: bool


class Proposer(BaseModel):
    id: str
    kind: str
    display_name: str | None
    roles: list[str]


class EvidenceItem(BaseModel):
    ref: str
    found: bool
    title: str | None = None
    summary: str | None = None


class EventPreview(BaseModel):
    event_type: str
    event_version: int
    payload: dict[str, Any]


class FieldChange(BaseModel):
    field: str
    before: Any
    after: Any


class ChangePreview(BaseModel):
    """What executing the proposal now would do to its aggregate."""

    outcome: Literal["events", "rejected", "conflict", "unavailable"]
    reason: str = ""
    aggregate_type: str
    aggregate_id: str
    exists: bool
    current_version: int
    expected_version: int | None
    events: list[EventPreview] = []
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    changes: list[FieldChange] = []
    # projection name -> its current document for this aggregate
    read_models: dict[str, dict[str, Any]] = {}


class ProposalView(BaseModel):
    """Everything `review show` prints and the console's proposal page shows."""

    proposal_id: str
    tenant_id: str
    status: str
    status_reason: str
    command_type: str
    tool: str | None
    aggregate_type: str
    aggregate_id: str
    expected_version: int | None
    proposer: Proposer
    run_id: str | None
    thread_id: str | None
    correlation_id: str
    payload: dict[str, Any]
    payload_digest: str
    rationale: str
    confidence: float
    evidence: list[EvidenceItem]
    decision: DecisionRecord
    votes: list[Vote]
    still_needed: str
    created_at: datetime
    updated_at: datetime
    age_seconds: int
    expires_at: datetime | None
    expires_in_seconds: int | None
    overdue: bool
    change: ChangePreview | None
    committed_events: list[EventView]


def span(seconds: int | None) -> str:
    """3725 -> "1h 2m": ages and deadlines at a glance."""
    if seconds is None:
        return "-"
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{seconds}s"


def _needed(proposal: ProposalRecord, votes: Sequence[Vote]) -> str:
    if proposal.status != "pending_approval":
        return f"nothing: {proposal.status}"
    d = proposal.decision
    needed = still_needed(ballots_of(list(votes)), roles=d.approver_roles,
                          count=d.approvers_required, distinct=d.distinct)
    return needed + (" (or the requester's own confirmation)" if d.confirm == "requester" else "")


def _timing(proposal: ProposalRecord, now: datetime) -> dict[str, Any]:
    left = int((proposal.expires_at - now).total_seconds()) if proposal.expires_at else None
    return {
        "age_seconds": int((now - proposal.created_at).total_seconds()),
        "expires_in_seconds": left,
        "overdue": proposal.status == "pending_approval" and left is not None and left <= 0,
    }


def queue_item(proposal: ProposalRecord, votes: Sequence[Vote], now: datetime) -> QueueItem:
    d = proposal.decision
    return QueueItem(
        proposal_id=proposal.proposal_id, tenant_id=proposal.tenant_id, status=proposal.status,
        command_type=proposal.command_type, aggregate_type=proposal.aggregate_type,
        aggregate_id=proposal.aggregate_id, proposer_id=proposal.actor.id,
        proposer_kind=proposal.actor.kind, rule_id=d.rule_id,
        approver_roles=list(d.approver_roles), approvers_required=d.approvers_required,
        votes=len(votes), still_needed=_needed(proposal, votes), created_at=proposal.created_at,
        expires_at=proposal.expires_at, **_timing(proposal, now),
    )


async def review_queue(
    app: App, *, tenant: str | None, status: str | None = "pending_approval",
    command_type: str | None = None, limit: int = QUEUE_LIMIT,
) -> list[QueueItem]:
    """Oldest first. `tenant` None is operator access (the CLI on the file)."""
    now = app.clock()

    def read(uow: UnitOfWork) -> list[QueueItem]:
        found = uow.proposals.find(tenant_id=tenant, status=status, command_type=command_type,
                                   limit=limit)
        return [queue_item(p, uow.proposals.votes(p.proposal_id), now) for p in found]

    return await app.store.read(read)


async def proposal_view(app: App, proposal_id: str, tenant: str | None) -> ProposalView | None:
    """The proposal as a reviewer needs it; None if absent or in another tenant."""
    return await app.store.read(lambda uow: build_view(app, uow, proposal_id, tenant))


def build_view(
    app: App, uow: UnitOfWork, proposal_id: str, tenant: str | None
) -> ProposalView | None:
    proposal = uow.proposals.get(proposal_id, tenant)
    if proposal is None:
        return None
    now = app.clock()
    votes = uow.proposals.votes(proposal_id)
    spec = app.domain.command(proposal.command_type)
    record = app.principals.get(proposal.actor.id)
    pending = proposal.status in ("pending_approval", "approved")
    return ProposalView(
        proposal_id=proposal.proposal_id, tenant_id=proposal.tenant_id, status=proposal.status,
        status_reason=proposal.status_reason, command_type=proposal.command_type,
        tool=spec.tool if spec else None, aggregate_type=proposal.aggregate_type,
        aggregate_id=proposal.aggregate_id, expected_version=proposal.expected_version,
        proposer=Proposer(id=proposal.actor.id, kind=proposal.actor.kind,
                          display_name=record.display_name if record else None,
                          roles=list(proposal.actor_roles)),
        run_id=proposal.run_id, thread_id=proposal.thread_id,
        correlation_id=proposal.correlation_id, payload=proposal.payload,
        payload_digest=proposal.payload_digest, rationale=proposal.rationale,
        confidence=proposal.confidence, evidence=_evidence(uow, proposal),
        decision=proposal.decision, votes=votes,
        still_needed=_needed(proposal, votes), created_at=proposal.created_at,
        updated_at=proposal.updated_at, expires_at=proposal.expires_at,
        change=preview(app, uow, proposal, spec, now) if pending else None,
        committed_events=[EventView.of(e) for e in uow.events.by_ids(proposal.event_ids)],
        **_timing(proposal, now),
    )


def _evidence(uow: UnitOfWork, proposal: ProposalRecord) -> list[EvidenceItem]:
    items = []
    for ref in proposal.evidence_refs:
        doc = uow.read_models.get(proposal.tenant_id, EVIDENCE_PROJECTION, ref)
        items.append(EvidenceItem(
            ref=ref, found=doc is not None,
            title=str(doc["title"]) if doc and "title" in doc else None,
            summary=str(doc["summary"]) if doc and "summary" in doc else None,
        ))
    return items


def state_doc(state: object) -> dict[str, Any]:
    """An aggregate state as JSON-safe fields, whatever the domain made it of."""
    doc: Any
    if dataclasses.is_dataclass(state) and not isinstance(state, type):
        doc = dataclasses.asdict(state)
    elif isinstance(state, BaseModel):
        doc = state.model_dump(mode="json")
    elif isinstance(state, Mapping):
        doc = dict(state)
    else:
        doc = {"state": repr(state)}
    loaded: dict[str, Any] = json.loads(json.dumps(doc, default=str))
    return loaded


def preview(
    app: App, uow: UnitOfWork, proposal: ProposalRecord,
    spec: CommandType[Any, Any] | None, now: datetime,
) -> ChangePreview:
    """Decide the command on the current state; commit nothing."""
    if spec is None:
        return ChangePreview(
            outcome="unavailable", reason=f"{proposal.command_type} is no longer registered",
            aggregate_type=proposal.aggregate_type, aggregate_id=proposal.aggregate_id,
            exists=False, current_version=0, expected_version=proposal.expected_version)
    loader = TxStateLoader(uow, proposal.tenant_id, app.upcaster)
    current = loader.load(spec.aggregate, proposal.aggregate_id)
    base = ChangePreview(
        outcome="events", aggregate_type=spec.aggregate.name, aggregate_id=proposal.aggregate_id,
        exists=current.exists, current_version=current.version,
        expected_version=proposal.expected_version,
        before=state_doc(current.state) if current.exists else {},
    )
    expected = proposal.expected_version if spec.target is not None else 0
    if expected is not None and expected != current.version:
        return base.model_copy(update={"outcome": "conflict", "reason": (
            f"{spec.aggregate.name} {proposal.aggregate_id} is at version {current.version}; "
            f"the proposal expected {expected}: approving would end in a conflict")})
    context = DecideContext(tenant_id=proposal.tenant_id, actor=proposal.actor,
                            aggregate_id=proposal.aggregate_id, now=now, loader=loader)
    try:
        decided = spec.decide(current.state, spec.payload.model_validate(proposal.payload),
                              context)
    except Exception as exc:  # a handler bug must not take the review page down
        return base.model_copy(update={"outcome": "unavailable",
                                       "reason": f"the handler failed: {type(exc).__name__}"})
    if isinstance(decided, Rejection):
        return base.model_copy(update={"outcome": "rejected", "reason": decided.reason})
    state = current.state
    for offset, new in enumerate(decided, start=1):
        state = spec.aggregate.apply(state, EventEnvelope(
            event_id=f"(not committed {offset})", event_type=new.type, event_version=new.version,
            tenant_id=proposal.tenant_id, aggregate_type=spec.aggregate.name,
            aggregate_id=proposal.aggregate_id, aggregate_version=current.version + offset,
            actor_type=proposal.actor.kind, actor_id=proposal.actor.id,
            payload_schema=f"{new.type}/v{new.version}", payload=dict(new.payload),
            occurred_at=now))
    after = state_doc(state)
    before = base.before
    types = {e.event_type for e in uow.events.stream(
        proposal.tenant_id, spec.aggregate.name, proposal.aggregate_id)} | {e.type for e in decided}
    return base.model_copy(update={
        "events": [EventPreview(event_type=e.type, event_version=e.version,
                                payload=json.loads(json.dumps(dict(e.payload), default=str)))
                   for e in decided],
        "after": after,
        "changes": [FieldChange(field=k, before=before.get(k), after=after.get(k))
                    for k in dict.fromkeys([*before, *after]) if before.get(k) != after.get(k)],
        "read_models": _read_models(app, uow, proposal, types),
    })


def _read_models(
    app: App, uow: UnitOfWork, proposal: ProposalRecord, event_types: set[str]
) -> dict[str, dict[str, Any]]:
    """The current documents of projections fed by this aggregate's events."""
    docs = {}
    for projection in app.domain.projections:
        if projection.handles & event_types:
            doc = uow.read_models.get(proposal.tenant_id, projection.name, proposal.aggregate_id)
            if doc is not None:
                docs[projection.name] = doc
    return docs
