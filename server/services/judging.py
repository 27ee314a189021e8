"""Asking the gate about a proposal, and recording what it said.

Submission and execution both judge proposals; the input they build and the
record they keep must be the same, so both live here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from signoff.policies import (
    AggregateFacts,
    Decision,
    Gate,
    PolicyInput,
    PrincipalFacts,
    ProposalFacts,
    RunFacts,
)
from signoff.server.clock import Clock, IdFactory
from signoff.server.domain import AggregateType, Loaded
from signoff.server.observability import span
from signoff.store.ports import UnitOfWork
from signoff.store.records import DecisionRecord, ProposalRecord

CurrentGate = Callable[[], Gate]


def aggregate_facts(
    aggregate: AggregateType[object], aggregate_id: str, loaded: Loaded[object]
) -> AggregateFacts:
    return AggregateFacts(
        type=aggregate.name, id=aggregate_id, version=loaded.version,
        status=aggregate.status(loaded.state) if loaded.exists else None,
        fields=aggregate.facts(loaded.state) if loaded.exists else {},
    )


def policy_input(
    uow: UnitOfWork,
    clock: Clock,
    *,
    principal: PrincipalFacts,
    command_type: str,
    payload: dict[str, object],
    proposal: ProposalFacts,
    aggregate: AggregateFacts | None,
    run_id: str | None,
    counted: tuple[int, int] | None = None,
) -> PolicyInput:
    """Everything a rule may read, counters for the limits included.

    The counters are the principal's across all its tenants (an agent in two
    tenants has one hourly budget), and a proposal made without a run id
    counts in the run of all the principal's run-less proposals: no run id
    never means no limit. `counted` gives them as `count_proposal` returned
    them for a new proposal; otherwise they are read as they stand."""
    in_run, last_hour = counted or uow.rates.counts(principal.id, run_id, clock())
    return PolicyInput(
        principal=principal, command_type=command_type, payload=payload, proposal=proposal,
        aggregate=aggregate,
        run=RunFacts(id=run_id, proposals_so_far=in_run, principal_proposals_last_hour=last_hour),
    )


def count_proposal(
    uow: UnitOfWork, principal_id: str, run_id: str | None, at: datetime
) -> tuple[int, int]:
    """Count a new proposal toward the limits, and return the counts as they
    were before it (in the run, in the last hour). Counting first is what
    makes the limits hold under concurrent writers: the increment locks the
    principal's counter rows until the transaction ends (PostgreSQL's upsert
    does; SQLite has one writer anyway), so a second submission by the same
    principal waits and then reads a count that includes the first."""
    uow.rates.add(principal_id, run_id, at)
    in_run, last_hour = uow.rates.counts(principal_id, run_id, at)
    return in_run - 1, last_hour - 1


def recorded_input(proposal: ProposalRecord, decision: DecisionRecord) -> PolicyInput | None:
    """The input `decision` judged, rebuilt from the proposal and what the
    decision kept; None when it kept nothing (recorded before it did)."""
    if decision.judged is None:
        return None
    aggregate = decision.judged.get("aggregate")
    return PolicyInput(
        principal=proposer_of(proposal), command_type=proposal.command_type,
        payload=dict(proposal.payload),
        proposal=ProposalFacts(rationale=proposal.rationale,
                               evidence_refs=proposal.evidence_refs,
                               confidence=proposal.confidence),
        aggregate=AggregateFacts.model_validate(aggregate) if aggregate else None,
        run=RunFacts.model_validate(decision.judged.get("run") or {}),
    )


def judge(gate: Gate, inp: PolicyInput, *, correlation_id: str | None) -> Decision:
    """The gate's decision, in a span that says who asked and what it said."""
    with span("policy.evaluate", correlation_id=correlation_id,
              command_type=inp.command_type, principal_id=inp.principal.id) as current:
        decision = gate.evaluate(inp)
        current.set_attribute("signoff.effect", decision.effect)
        current.set_attribute("signoff.rule_id", decision.rule_id)
    return decision


def proposer_of(proposal: ProposalRecord) -> PrincipalFacts:
    kind = proposal.actor.kind
    return PrincipalFacts(
        id=proposal.actor.id, kind="service" if kind == "system" else kind,
        tenant=proposal.tenant_id, roles=proposal.actor_roles,
    )


def decision_record(
    decision: Decision, *, proposal_id: str, tenant_id: str, now: datetime, ids: IdFactory,
    judged: PolicyInput, stage: str = "submit", decision_id: str | None = None,
) -> DecisionRecord:
    """The record of `decision`; `decision_id` when one was made beforehand
    (outside the writer), else a new one."""
    approvers = decision.approvers
    return DecisionRecord(
        judged={"aggregate": judged.aggregate.model_dump(mode="json") if judged.aggregate
                else None, "run": judged.run.model_dump(mode="json")},
        decision_id=decision_id or ids("dec"), proposal_id=proposal_id, tenant_id=tenant_id,
        effect=decision.effect, rule_id=decision.rule_id, reason=decision.reason,
        policy_version=decision.policy_version,
        approver_roles=approvers.roles if approvers else (),
        approvers_required=approvers.count if approvers else 0,
        distinct=approvers.distinct if approvers else False,
        confirm=approvers.confirm if approvers else None,
        expires_at=now + approvers.expires_in if approvers else None,
        decided_at=now,
        stage="execute" if stage == "execute" else "submit",
    )
