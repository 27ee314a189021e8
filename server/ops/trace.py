"""The causal trace: one request, from the agent's tool calls to every effect.

For a proposal id or a correlation id, `build_trace` collects the tool calls
of the run and those that made or read each proposal (runtime log), each
proposal, the policy decisions, the votes, the status changes, the command
result, the committed events, their outbox deliveries and what consumers did
with them (inbox rows, and the proposals they made, such as the notification
service's `notice.record_delivery`, found through their idempotency key, and
followed only for a service principal of the delivery's tenant). A gateway
proposal's upstream call is its side effect, attempt by attempt
(`trace_calls`). Each step names the steps that caused it, and the list is in
causal order (a cause always before its effects, otherwise by time), so a
console can draw it as a timeline and a terminal as a tree. Details pass
through `redact`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from signoff.server.delivery import delivery_key
from signoff.server.observability import redact
from signoff.server.ops.trace_calls import AGGREGATE as CALL_AGGREGATE
from signoff.server.ops.trace_calls import call_steps, status_causes
from signoff.server.services.lifecycle import result_of
from signoff.store.ports import UnitOfWork
from signoff.store.records import EventEnvelope, OutboxMessage, ProposalRecord

if TYPE_CHECKING:
    from signoff.server.app import App

StepKind = Literal["tool_call", "proposal", "decision", "vote", "status", "result", "event",
                   "delivery", "side_effect"]
LIMIT = 500


class TraceStep(BaseModel):
    model_config = ConfigDict(frozen=True)

    step_id: str = Field(description="Unique within the trace, e.g. 'event:evt_12'.")
    kind: StepKind
    at: datetime | None = None
    actor: str = ""
    label: str = Field(description="One line saying what happened.")
    proposal_id: str | None = None
    caused_by: list[str] = Field(default_factory=list, description="step_ids of its causes.")
    details: dict[str, Any] = Field(default_factory=dict)


class Trace(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    resolved_as: Literal["proposal", "correlation"]
    tenant_id: str | None = None
    correlation_ids: list[str]
    proposal_ids: list[str]
    steps: list[TraceStep]


class _Builder:
    def __init__(self, uow: UnitOfWork, tenant: str | None, sensitive: frozenset[str]) -> None:
        self.uow = uow
        self.tenant = tenant
        self.sensitive = sensitive
        self.steps: dict[str, TraceStep] = {}
        self.proposals: dict[str, ProposalRecord] = {}
        # idempotency key a consumer uses -> (delivery step id, its tenant)
        self.deliveries: dict[str, tuple[str, str]] = {}
        self.inbox_steps: dict[str, list[str]] = {}  # delivery step id -> inbox step ids
        self.event_steps: dict[str, str] = {}  # event id -> its step, where not "event:<id>"

    def mine(self, tenant_id: str) -> bool:
        return self.tenant is None or tenant_id == self.tenant

    def add(self, step_id: str, kind: StepKind, label: str, *, at: datetime | None,
            actor: str = "", causes: Iterable[str | None] = (), proposal_id: str | None = None,
            **details: Any) -> str:
        if step_id not in self.steps:
            self.steps[step_id] = TraceStep(
                step_id=step_id, kind=kind, at=at, actor=actor, label=label,
                proposal_id=proposal_id, caused_by=[c for c in causes if c],
                details=redact({k: v for k, v in details.items() if v is not None},
                               self.sensitive))
        return step_id

    def upstream(self, p: ProposalRecord) -> str | None:
        """The delivery step that made a consumer propose `p`, if any. The
        idempotency key and correlation id are chosen by whoever proposes: an
        agent could copy a consumer's. So only a service principal's proposal
        in the delivery's own tenant is followed from a delivery."""
        found = self.deliveries.get(p.idempotency_key or "")
        if found is None or p.actor.kind != "service" or p.tenant_id != found[1]:
            return None
        return found[0]

    def cite(self, step_id: str, cause: str) -> None:
        step = self.steps[step_id]
        if cause not in step.caused_by:
            self.steps[step_id] = step.model_copy(
                update={"caused_by": [*step.caused_by, cause]})

    def tool_calls(self, run_id: str | None = None, correlation_id: str | None = None,
                   proposal_id: str | None = None) -> None:
        """The calls of a run or correlation, or those that made or read a
        proposal (whatever run they were in: the runtime log names it)."""
        if run_id is None and correlation_id is None and proposal_id is None:
            return
        for call in self.uow.runtime.find(run_id=run_id, correlation_id=correlation_id,
                                          proposal_id=proposal_id, limit=LIMIT):
            if self.mine(call.tenant_id):
                self.add(f"call:{call.entry_id}", "tool_call",
                         f"{call.kind} tool {call.tool} -> {call.outcome}", at=call.at,
                         actor=call.principal_id, proposal_id=call.proposal_id,
                         run_id=call.run_id, run_source=call.run_source,
                         correlation_id=call.correlation_id, latency_ms=call.latency_ms,
                         arguments_digest=call.arguments_digest)

    def proposal(self, p: ProposalRecord) -> None:
        if p.proposal_id in self.proposals:
            return
        self.proposals[p.proposal_id] = p
        pid = p.proposal_id
        self.tool_calls(proposal_id=pid)
        call = next((s.step_id for s in self.steps.values()
                     if s.kind == "tool_call" and s.proposal_id == pid), None)
        upstream = self.upstream(p)
        root = self.add(
            f"proposal:{pid}", "proposal", f"{p.actor.id} proposed {p.command_type} on "
            f"{p.aggregate_type}/{p.aggregate_id}", at=p.created_at, actor=p.actor.id,
            causes=[call, upstream], proposal_id=pid, status=p.status, payload=p.payload,
            payload_digest=p.payload_digest, rationale=p.rationale,
            evidence_refs=list(p.evidence_refs), confidence=p.confidence,
            run_id=p.run_id, correlation_id=p.correlation_id,
            idempotency_key=p.idempotency_key)
        # The consumer records its inbox row once its proposal stands.
        for effect in self.inbox_steps.get(upstream or "", ()):
            self.cite(effect, root)
        decisions = self.uow.proposals.decisions(pid)
        submit = next((d for d in decisions if d.stage == "submit"), p.decision)
        first = self.add(
            f"decision:{submit.decision_id}", "decision",
            f"policy: {submit.effect} by rule {submit.rule_id}", at=submit.decided_at,
            actor="policy gate", causes=[root], proposal_id=pid, reason=submit.reason,
            rule_id=submit.rule_id, policy_version=submit.policy_version, stage=submit.stage,
            approver_roles=list(submit.approver_roles),
            approvers_required=submit.approvers_required, expires_at=submit.expires_at)
        later = [d for d in decisions if d.decision_id != submit.decision_id]
        votes = list(self.uow.proposals.votes(pid))
        latest, statuses = first, {}
        changes: list[tuple[str, str, list[str]]] = []  # status, its step, the event ids
        for event in self.uow.proposals.events(pid):
            if event.event_type == "proposal.vote_cast" and votes:
                vote = votes.pop(0)
                latest = self.add(
                    f"vote:{vote.vote_id}", "vote", f"{vote.voter_id} voted {vote.verdict} "
                    f"via {vote.channel}", at=vote.cast_at, actor=vote.voter_id,
                    causes=[first], proposal_id=pid, roles=list(vote.voter_roles),
                    channel=vote.channel, comment=vote.comment,
                    payload_digest=vote.payload_digest)
            elif event.event_type.startswith("proposal."):
                status = event.event_type.removeprefix("proposal.")
                if later and status != "approved":
                    d = later.pop(0)
                    latest = self.add(
                        f"decision:{d.decision_id}", "decision", f"policy re-evaluated: "
                        f"{d.effect} by rule {d.rule_id}", at=d.decided_at, actor="policy gate",
                        causes=[latest], proposal_id=pid, reason=d.reason,
                        policy_version=d.policy_version, stage=d.stage)
                latest = statuses[status] = self.add(
                    f"status:{pid}:{event.seq}", "status", f"proposal {status}",
                    at=event.occurred_at, actor=event.actor_id, causes=[latest],
                    proposal_id=pid, change=dict(event.payload))
                changes.append((status, latest, list(event.payload.get("event_ids", []))))
        if (result := result_of(p)) is not None:
            self.add(f"result:{result.command_id}:{result.status}", "result",
                     f"command result: {result.outcome} ({result.status})",
                     at=result.recorded_at, causes=[latest], proposal_id=pid,
                     command_id=result.command_id, message=result.message,
                     event_ids=list(result.event_ids))
        if p.aggregate_type == CALL_AGGREGATE:
            self.upstream_call(p, latest, changes)
        else:
            executed = statuses.get("executed", latest)
            for committed in self.uow.events.by_ids(p.event_ids):
                self.event(committed, executed, pid)
        for row in self.uow.outbox.by_causation(p.command_id, LIMIT):
            cause = {"approval.requested": first,
                     "approval.expired": statuses.get("expired")}.get(row.topic)
            event_step = self.event_steps.get(row.message_id, f"event:{row.message_id}")
            self.delivery(row, cause or event_step, pid)

    def upstream_call(self, p: ProposalRecord, latest: str,
                      changes: list[tuple[str, str, list[str]]]) -> None:
        """The call upstream, as the side effect of the executor's approval
        (its first `executing`); each status change cites the call step it
        recorded."""
        approved = next((step for status, step, _ in changes if status == "executing"), latest)
        events = self.uow.events.stream(p.tenant_id, CALL_AGGREGATE, p.aggregate_id)
        by_event = call_steps(events, self.add, name=p.command_type.removeprefix("tool."),
                              cause=approved, proposal_id=p.proposal_id)
        self.event_steps.update(by_event)
        # The approval is caused by the executor's status change, not the other way.
        outcomes = {e: s for e, s in by_event.items() if self.steps[s].kind != "event"}
        for status_step, call_step in status_causes(changes, outcomes).items():
            self.cite(status_step, call_step)

    def event(self, e: EventEnvelope, cause: str | None, pid: str | None) -> None:
        if self.mine(e.tenant_id):
            self.add(f"event:{e.event_id}", "event", f"#{e.position} {e.event_type} "
                     f"{e.aggregate_type}/{e.aggregate_id} v{e.aggregate_version}",
                     at=e.occurred_at, actor=e.actor_id, causes=[cause], proposal_id=pid,
                     position=e.position, payload=e.payload, hash=e.hash)

    def delivery(self, m: OutboxMessage, cause: str, pid: str | None) -> None:
        """The row as written (at its commit: what it caused, a consumer's
        proposal included, happened while it was being delivered, before it
        was marked published) and what consumers recorded of it."""
        if not self.mine(m.tenant_id):
            return
        published = self.uow.outbox.published_at([m.message_id]).get(m.message_id)
        step = self.add(
            f"delivery:{m.message_id}", "delivery", f"outbox {m.topic}: {m.status} after "
            f"{m.attempts} attempt(s)", at=m.created_at, causes=[cause],
            proposal_id=pid, message_id=m.message_id, topic=m.topic, status=m.status,
            attempts=m.attempts, published_at=published, last_error=m.last_error,
            next_attempt_at=m.next_attempt_at)
        self.deliveries[delivery_key(m.message_id)] = (step, m.tenant_id)
        for consumer, message_id, at in self.uow.inbox.handled([m.message_id]):
            self.inbox_steps.setdefault(step, []).append(self.add(
                f"inbox:{consumer}:{message_id}", "side_effect", f"{consumer} handled {m.topic}",
                at=at, actor=consumer, causes=[step], proposal_id=pid, consumer=consumer))

    def ordered(self) -> list[TraceStep]:
        """Causes first; among steps whose causes are all out, the earliest."""
        known = set(self.steps)
        steps = [s.model_copy(update={"caused_by": [c for c in s.caused_by if c in known]})
                 for s in self.steps.values()]
        index = {s.step_id: i for i, s in enumerate(steps)}
        out: list[TraceStep] = []
        done: set[str] = set()
        waiting = list(steps)
        while waiting:
            ready = [s for s in waiting if all(c in done for c in s.caused_by)] or waiting
            nxt = min(ready, key=lambda s: (_instant(s.at), index[s.step_id]))
            out.append(nxt)
            done.add(nxt.step_id)
            waiting.remove(nxt)
        return out


def _instant(at: datetime | None) -> float:
    return at.timestamp() if at is not None else float("-inf")


def build_trace(uow: UnitOfWork, subject: str, tenant: str | None = None,
                sensitive: frozenset[str] = frozenset()) -> Trace | None:
    """The trace of a proposal id, else of a correlation id; None if neither
    names anything (in `tenant`, when given: None is operator access)."""
    b = _Builder(uow, tenant, sensitive)
    proposal = uow.proposals.get(subject, tenant)
    if proposal is not None:
        # A proposal's trace stays in its tenant, operator access included:
        # a run or correlation id is chosen by the caller and may be reused.
        b.tenant = b.tenant or proposal.tenant_id
        correlation = proposal.correlation_id
        b.tool_calls(proposal.run_id, correlation)
        roots = [proposal]
    else:
        correlation = subject
        roots = [p for p in uow.proposals.by_correlation(subject, LIMIT) if b.mine(p.tenant_id)]
        b.tool_calls(None, subject)
        for run_id in sorted({p.run_id for p in roots if p.run_id}):
            b.tool_calls(run_id, None)
    siblings = [p for p in uow.proposals.by_correlation(correlation, LIMIT) if b.mine(p.tenant_id)]
    for root in roots:
        b.proposal(root)
    # Proposals a consumer made because of a delivery above (in causal order:
    # each may lead to deliveries that lead to further ones).
    while True:
        downstream = [p for p in siblings
                      if p.proposal_id not in b.proposals and b.upstream(p) is not None]
        if not downstream:
            break
        for p in downstream:
            b.proposal(p)
    if proposal is None:
        for row in uow.outbox.find(correlation_id=subject, limit=LIMIT):
            if f"delivery:{row.message_id}" not in b.steps:  # events of no proposal (seeding)
                for orphan in uow.events.by_ids([row.message_id]):
                    b.event(orphan, None, None)
                b.delivery(row, f"event:{row.message_id}", None)
    if not b.steps:
        return None
    return Trace(
        subject=subject, resolved_as="proposal" if proposal is not None else "correlation",
        tenant_id=b.tenant, correlation_ids=[correlation], proposal_ids=list(b.proposals),
        steps=b.ordered())


async def trace_of(app: App, subject: str, tenant: str | None = None) -> Trace | None:
    from signoff.server.observability import domain_sensitive_fields

    sensitive = domain_sensitive_fields(app.domain)
    return await app.store.read(lambda uow: build_trace(uow, subject, tenant, sensitive))
