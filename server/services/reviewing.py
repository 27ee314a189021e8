"""The reviewer's view of proposals: the queue, and one proposal in full.

Everything is read in one snapshot. "What approving would change" is the
executor's own dry run (`Executor.plan`) on the aggregate's current state:
the events it would commit are folded into a copy of that state and shown
beside the read models' current documents. Generic over whatever the
command registry holds; nothing here knows a particular domain.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from signoff.policies.principals import Principals
from signoff.server.clock import Clock
from signoff.server.domain import Citations, CommandType, Projection
from signoff.server.services.executor import Executor
from signoff.server.services.quorum import ballots_of, still_needed
from signoff.server.services.receipts import EventView
from signoff.server.services.registry import CommandRegistry
from signoff.server.services.review_views import (
    ChangePreview,
    EventPreview,
    EvidenceItem,
    FieldChange,
    ProposalView,
    Proposer,
    QueueItem,
    ReviewField,
    state_doc,
)
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import EventEnvelope, ProposalRecord, Vote

QUEUE_LIMIT = 200
SUMMARY_MAX = 200
# The id a previewed (uncommitted) event is folded under; a state field that
# ends up holding it is shown as "given on commit", never as this value.
_UNCOMMITTED = "signoff:uncommitted-event:"


def _needed(proposal: ProposalRecord, votes: Sequence[Vote]) -> str:
    if proposal.status != "pending_approval":
        return f"nothing: {proposal.status}"
    d = proposal.decision
    needed = still_needed(ballots_of(votes), roles=d.approver_roles,
                          count=d.approvers_required, distinct=d.distinct)
    return needed + (" (or the requester's own confirmation)" if d.confirm == "requester" else "")


def _timing(proposal: ProposalRecord, now: datetime) -> dict[str, Any]:
    left = int((proposal.expires_at - now).total_seconds()) if proposal.expires_at else None
    return {
        "age_seconds": int((now - proposal.created_at).total_seconds()),
        "expires_in_seconds": left,
        "overdue": proposal.status == "pending_approval" and left is not None and left <= 0,
    }


def summary_of(spec: CommandType[Any, Any] | None, proposal: ProposalRecord) -> str | None:
    """The command's one-line summary of this proposal, if it declares one.
    A summary that fails is left out: it must not take the queue down."""
    if spec is None or spec.summary is None:
        return None
    try:
        text = spec.summary(spec.payload.model_validate(proposal.payload))
    except Exception:
        return None
    line = " ".join(str(text).split())
    return line if len(line) <= SUMMARY_MAX else line[:SUMMARY_MAX - 1] + "…"


def queue_item(proposal: ProposalRecord, votes: Sequence[Vote], now: datetime,
               summary: str | None = None) -> QueueItem:
    d = proposal.decision
    return QueueItem(
        proposal_id=proposal.proposal_id, tenant_id=proposal.tenant_id, status=proposal.status,
        command_type=proposal.command_type, summary=summary,
        aggregate_type=proposal.aggregate_type,
        aggregate_id=proposal.aggregate_id, proposer_id=proposal.actor.id,
        proposer_kind=proposal.actor.kind, rule_id=d.rule_id,
        approver_roles=list(d.approver_roles), approvers_required=d.approvers_required,
        votes=len(votes), still_needed=_needed(proposal, votes), created_at=proposal.created_at,
        expires_at=proposal.expires_at, **_timing(proposal, now),
    )


class ReviewService:
    """What reviewers read, whichever door they come through (CLI, console,
    in-client confirmation)."""

    def __init__(
        self, *, store: Store, commands: CommandRegistry, citations: Citations,
        projections: Sequence[Projection], principals: Principals, executor: Executor,
        clock: Clock, describe_call: Callable[[ProposalRecord], dict[str, Any] | None]
        = lambda _p: None,
    ) -> None:
        self._describe_call = describe_call
        self._store = store
        self._commands = commands
        self._citations = citations
        self._projections = tuple(projections)
        self._principals = principals
        self._executor = executor
        self._clock = clock

    @property
    def command_types(self) -> list[str]:
        return self._commands.names()

    async def queue(
        self, *, tenant: str | None, status: str | None = "pending_approval",
        command_type: str | None = None, limit: int = QUEUE_LIMIT,
    ) -> list[QueueItem]:
        """Oldest first. `tenant` None is operator access (the CLI on the file)."""
        now = self._clock()

        def read(uow: UnitOfWork) -> list[QueueItem]:
            found = uow.proposals.find(tenant_id=tenant, status=status,
                                       command_type=command_type, limit=limit)
            return [queue_item(p, uow.proposals.votes(p.proposal_id), now,
                               summary_of(self._commands.get(p.command_type), p))
                    for p in found]

        return await self._store.read(read)

    async def view(self, proposal_id: str, tenant: str | None) -> ProposalView | None:
        """The proposal as a reviewer needs it; None if absent or in another tenant."""
        return await self._store.read(lambda uow: self.build_view(uow, proposal_id, tenant))

    def build_view(
        self, uow: UnitOfWork, proposal_id: str, tenant: str | None
    ) -> ProposalView | None:
        proposal = uow.proposals.get(proposal_id, tenant)
        if proposal is None:
            return None
        now = self._clock()
        votes = uow.proposals.votes(proposal_id)
        spec = self._commands.get(proposal.command_type)
        record = self._principals.get(proposal.actor.id)
        pending = proposal.status in ("pending_approval", "approved")
        change = self.preview(uow, proposal, spec, now) if pending else None
        return ProposalView(
            proposal_id=proposal.proposal_id, tenant_id=proposal.tenant_id,
            status=proposal.status, status_reason=proposal.status_reason,
            command_type=proposal.command_type, summary=summary_of(spec, proposal),
            review_fields=_review_fields(spec, proposal, change),
            tool=spec.tool if spec else None,
            aggregate_type=proposal.aggregate_type, aggregate_id=proposal.aggregate_id,
            expected_version=proposal.expected_version,
            proposer=Proposer(id=proposal.actor.id, kind=proposal.actor.kind,
                              display_name=record.display_name if record else None,
                              roles=list(proposal.actor_roles)),
            run_id=proposal.run_id, thread_id=proposal.thread_id,
            correlation_id=proposal.correlation_id, payload=proposal.payload,
            payload_digest=proposal.payload_digest, rationale=proposal.rationale,
            confidence=proposal.confidence, evidence=self._evidence(uow, proposal),
            decision=proposal.decision, votes=votes,
            still_needed=_needed(proposal, votes), created_at=proposal.created_at,
            updated_at=proposal.updated_at, expires_at=proposal.expires_at,
            change=change,
            committed_events=[EventView.of(e) for e in uow.events.by_ids(proposal.event_ids)],
            call=self._describe_call(proposal),
            **_timing(proposal, now),
        )

    def _evidence(self, uow: UnitOfWork, proposal: ProposalRecord) -> list[EvidenceItem]:
        cited = self._citations
        if cited.projection is None:
            return [EvidenceItem(ref=ref, found=None) for ref in proposal.evidence_refs]
        items = []
        for ref in proposal.evidence_refs:
            doc = uow.read_models.get(proposal.tenant_id, cited.projection, ref)
            items.append(EvidenceItem(
                ref=ref, found=doc is not None,
                title=str(doc[cited.title]) if doc and cited.title in doc else None,
                summary=str(doc[cited.summary]) if doc and cited.summary in doc else None,
            ))
        return items

    def preview(
        self, uow: UnitOfWork, proposal: ProposalRecord,
        spec: CommandType[Any, Any] | None, now: datetime,
    ) -> ChangePreview:
        """The executor's dry run on the current state; commits nothing."""
        unavailable = ChangePreview(
            outcome="unavailable", aggregate_type=proposal.aggregate_type,
            aggregate_id=proposal.aggregate_id, exists=False, current_version=0,
            expected_version=proposal.expected_version)
        if spec is None:
            return unavailable.model_copy(
                update={"reason": f"{proposal.command_type} is no longer registered"})
        try:
            plan = self._executor.plan(uow, proposal)
        except Exception as exc:  # a handler bug must not take the review page down
            return unavailable.model_copy(
                update={"reason": f"the handler failed: {type(exc).__name__}"})
        current = plan.current
        base = ChangePreview(
            outcome="events", aggregate_type=spec.aggregate.name,
            aggregate_id=proposal.aggregate_id, exists=current.exists,
            current_version=current.version, expected_version=proposal.expected_version,
            before=state_doc(current.state) if current.exists else {},
        )
        if plan.outcome == "conflict":
            return base.model_copy(update={"outcome": "conflict", "reason": (
                f"{plan.reason}: approving would end in a conflict")})
        if plan.outcome == "rejected":
            return base.model_copy(update={"outcome": "rejected", "reason": plan.reason})
        # A marker of this preview's own: an agent-written value can never pass
        # for one (nor make the page fail).
        marker = f"{_UNCOMMITTED}{secrets.token_hex(8)}:"
        after, given_on_commit = _uncommitted_ids(state_doc(_fold(
            spec, proposal, plan.events, current.state, current.version, now, marker)),
            plan.events, marker)
        before = base.before
        types = {e.event_type for e in uow.events.stream(
            proposal.tenant_id, spec.aggregate.name, proposal.aggregate_id)}
        types |= {e.type for e in plan.events}
        return base.model_copy(update={
            "events": [EventPreview(event_type=e.type, event_version=e.version,
                                    payload=json.loads(json.dumps(dict(e.payload), default=str)))
                       for e in plan.events],
            "after": after,
            "changes": [FieldChange(field=k, before=before.get(k), after=after.get(k))
                        for k in dict.fromkeys([*before, *after])
                        if before.get(k) != after.get(k) or k in given_on_commit],
            "given_on_commit": given_on_commit,
            "read_models": self._read_models(uow, proposal, types),
        })

    def _read_models(
        self, uow: UnitOfWork, proposal: ProposalRecord, event_types: set[str]
    ) -> dict[str, dict[str, Any]]:
        """The current documents of projections fed by this aggregate's events."""
        docs = {}
        for projection in self._projections:
            if projection.handles & event_types:
                doc = uow.read_models.get(proposal.tenant_id, projection.name,
                                          proposal.aggregate_id)
                if doc is not None:
                    docs[projection.name] = doc
        return docs


def _fold(
    spec: CommandType[Any, Any], proposal: ProposalRecord, events: Sequence[Any],
    state: Any, version: int, now: datetime, marker: str,
) -> Any:
    """The aggregate's state after `events`, which are not committed: they
    have no ids yet, so they are folded under a marker id nobody stores."""
    apply: Callable[[Any, EventEnvelope], Any] = spec.aggregate.apply
    for offset, new in enumerate(events, start=1):
        state = apply(state, EventEnvelope(
            event_id=f"{marker}{offset}", event_type=new.type, event_version=new.version,
            tenant_id=proposal.tenant_id, aggregate_type=spec.aggregate.name,
            aggregate_id=proposal.aggregate_id, aggregate_version=version + offset,
            actor_type=proposal.actor.kind, actor_id=proposal.actor.id,
            payload_schema=f"{new.type}/v{new.version}", payload=dict(new.payload),
            occurred_at=now))
    return state


def _uncommitted_ids(
    after: dict[str, Any], events: Sequence[Any], marker: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """The state after the change with every stand-in event id taken out
    (None in its place), and for each field that held one, what it will be."""
    notes: dict[str, str] = {}

    def clean(value: Any, field: str) -> Any:
        stand_ins = {f"{marker}{n}": e.type for n, e in enumerate(events, start=1)}
        if isinstance(value, str) and value in stand_ins:
            notes[field] = f"the id of the {stand_ins[value]} event, given when it is committed"
            return None
        if isinstance(value, list):
            return [clean(v, field) for v in value]
        if isinstance(value, dict):
            return {k: clean(v, field) for k, v in value.items()}
        return value

    return {k: clean(v, k) for k, v in after.items()}, notes


def _review_fields(
    spec: CommandType[Any, Any] | None, proposal: ProposalRecord, change: ChangePreview | None,
) -> list[ReviewField]:
    """The fields the command says a reviewer must see: from the payload,
    else from the state after the change (or as it is, when the change
    cannot happen). Fields found in neither are left out."""
    if spec is None:
        return []
    state = (change.after or change.before) if change is not None else {}
    fields = []
    for name in spec.review_fields:
        if name in proposal.payload:
            fields.append(ReviewField(name=name, value=proposal.payload[name], source="payload"))
        elif name in state:
            fields.append(ReviewField(name=name, value=state[name], source="state"))
    return fields
