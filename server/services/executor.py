"""The executor: the only code that turns an approved proposal into events.

`run` is called inside a write transaction. The claim is the status itself:
only a proposal that is `approved` in this transaction is executed, and the
transaction moves it on, so a second executor (task or process) that gets
the write lock afterwards finds it already executed and does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from signoff.policies import ProposalFacts
from signoff.server.clock import Clock, IdFactory
from signoff.server.domain import CommandType, DecideContext, Loaded, NewEvent, Rejection
from signoff.server.observability import span
from signoff.server.services.judging import (
    CurrentGate,
    aggregate_facts,
    decision_record,
    judge,
    policy_input,
    proposer_of,
)
from signoff.server.services.lifecycle import Lifecycle
from signoff.server.services.quorum import ballots_of, quorum_met
from signoff.server.services.registry import CommandRegistry
from signoff.server.state.aggregates import Loaders, TxStateLoader
from signoff.server.state.committer import Causation, Committer
from signoff.store.canonical import digest
from signoff.store.ports import UnitOfWork
from signoff.store.records import EventEnvelope, ProposalEvent, ProposalRecord

log = logging.getLogger("signoff.executor")
EXECUTOR = "system:executor"


def digest_of(
    spec: CommandType[Any, Any], payload: dict[str, Any], expected_version: int | None
) -> str:
    """The digest a proposal is recorded with and reviewers vote on: the
    command type, its payload, the version it expects, and what the command
    is pinned to (a gateway tool's digest), if anything."""
    basis: dict[str, Any] = {"command_type": spec.name, "payload": payload,
                             "expected_version": expected_version}
    if spec.pinned is not None:
        basis["pinned"] = spec.pinned
    return digest(basis)


@dataclass(frozen=True)
class Execution:
    proposal: ProposalRecord
    events: list[EventEnvelope] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    """What executing a proposal now would do, with nothing committed: the
    events its handler decides on, or the rejection or version conflict that
    would end it. Execution, the reviewer's preview and the requester's
    confirmation all ask for this one dry run."""

    spec: CommandType[Any, Any]
    current: Loaded[Any]
    outcome: Literal["events", "rejected", "conflict"]
    events: Sequence[NewEvent] = ()
    reason: str = ""


class Executor:
    def __init__(
        self, *, commands: CommandRegistry, gate: CurrentGate, committer: Committer,
        loaders: Loaders, lifecycle: Lifecycle, clock: Clock, ids: IdFactory,
    ) -> None:
        self._commands = commands
        self._gate = gate
        self._committer = committer
        self._loaders = loaders
        self._lifecycle = lifecycle
        self._clock = clock
        self._ids = ids

    def run(
        self, uow: UnitOfWork, proposal_id: str, *, unsaved: ProposalRecord | None = None,
        entries: Sequence[ProposalEvent] = (), loader: TxStateLoader | None = None,
        decided: Sequence[NewEvent] | None = None,
    ) -> Execution | None:
        """Execute the proposal if it is approved; None if it is not (anymore).

        `unsaved` is a proposal a submission decided in this same transaction
        and has not written yet: it is executed as given, and the caller
        stores the returned final proposal (one insert, never an insert then
        an update). `entries` are its lifecycle entries not written yet either
        (the submission's `proposed`): they go in with the entry of the
        status it ends in, in one statement. `loader` lets it reuse
        the state that submission loaded, and `decided` the events its
        handler decided on that state a moment ago in this transaction
        (from the payload just validated, under the digest just computed),
        rather than deciding them twice."""
        proposal = unsaved or uow.proposals.claim(proposal_id, None)
        if proposal is None or proposal.status != "approved":
            return None
        # Still to write, whether the execution goes through or fails: the
        # savepoint's rollback cannot take them with it.
        fresh = tuple(entries) if unsaved is not None else None
        try:
            with span("executor.execute", correlation_id=proposal.correlation_id,
                      proposal_id=proposal_id, command_type=proposal.command_type), \
                    uow.savepoint():
                return self._execute(
                    uow, proposal, loader, unsaved=fresh,
                    decided=decided if fresh is not None else None)
        except Exception:
            # Never a half-commit: the savepoint undid everything above.
            log.exception("execution of %s failed", proposal_id)
            failed = self._lifecycle.move(
                uow, proposal, "failed", actor_id=EXECUTOR, unsaved=fresh,
                reason="execution failed inside signoff; nothing was committed",
            )
            return Execution(failed)

    def plan(
        self, uow: UnitOfWork, proposal: ProposalRecord, loader: TxStateLoader | None = None,
    ) -> Plan:
        """Decide the proposal's command on the aggregate's current state.
        Raises LookupError when its command type is no longer registered."""
        spec = self._commands.get(proposal.command_type)
        if spec is None:
            raise LookupError(f"command type {proposal.command_type} is no longer registered")
        if loader is None or loader.uow is not uow:
            loader = self._loaders(uow, proposal.tenant_id)
        current = loader.load(spec.aggregate, proposal.aggregate_id)
        if digest_of(spec, proposal.payload, proposal.expected_version) != (
                proposal.payload_digest):
            return Plan(spec, current, "rejected", reason=(
                f"{spec.name} changed since it was proposed (its pinned definition differs "
                "from the one reviewed); it is not executed"))
        expected = proposal.expected_version if spec.target is not None else 0
        if expected is not None and current.version != expected:
            return Plan(spec, current, "conflict", reason=(
                f"{spec.aggregate.name} {proposal.aggregate_id} is at version "
                f"{current.version}; the proposal expected {expected}"))
        context = DecideContext(
            tenant_id=proposal.tenant_id, actor=proposal.actor,
            aggregate_id=proposal.aggregate_id, now=self._clock(), loader=loader,
        )
        decided = spec.decide(current.state, spec.payload.model_validate(proposal.payload),
                              context)
        if isinstance(decided, Rejection):
            return Plan(spec, current, "rejected", reason=decided.reason)
        return Plan(spec, current, "events", events=tuple(decided))

    def _execute(
        self, uow: UnitOfWork, proposal: ProposalRecord, loader: TxStateLoader | None, *,
        unsaved: tuple[ProposalEvent, ...] | None, decided: Sequence[NewEvent] | None = None,
    ) -> Execution:
        spec = self._commands.get(proposal.command_type)
        if spec is None:
            raise LookupError(f"command type {proposal.command_type} is no longer registered")
        if loader is None or loader.uow is not uow:
            loader = self._loaders(uow, proposal.tenant_id)
        if unsaved is None:  # a fresh submission already holds it
            uow.events.hold(proposal.tenant_id, spec.aggregate.name, proposal.aggregate_id)
        current = loader.load(spec.aggregate, proposal.aggregate_id)
        requeued = self._rejudge(uow, proposal, spec, current, unsaved=unsaved)
        if requeued is not None:
            return Execution(requeued)
        plan = (self.plan(uow, proposal, loader) if decided is None
                else Plan(spec, current, "events", events=tuple(decided)))
        if plan.outcome != "events":
            return Execution(self._lifecycle.move(
                uow, proposal, "conflict" if plan.outcome == "conflict" else "rejected",
                actor_id=EXECUTOR, reason=plan.reason, unsaved=unsaved))
        loader.forget(spec.aggregate.name, proposal.aggregate_id)
        events = self._committer.commit(
            uow, tenant_id=proposal.tenant_id, aggregate_type=spec.aggregate.name,
            aggregate_id=proposal.aggregate_id, base_version=plan.current.version,
            events=plan.events,
            causation=Causation(
                actor=proposal.actor, correlation_id=proposal.correlation_id,
                causation_id=proposal.command_id, run_id=proposal.run_id,
                thread_id=proposal.thread_id,
            ),
        )
        # An external command's effect is still to happen, through a consumer.
        executed = self._lifecycle.move(
            uow, proposal, "executing" if spec.external else "executed", actor_id=EXECUTOR,
            event_ids=tuple(e.event_id for e in events), unsaved=unsaved,
        )
        return Execution(executed, events)

    def _rejudge(
        self, uow: UnitOfWork, proposal: ProposalRecord, spec: CommandType[Any, Any],
        current: Loaded[Any], *, unsaved: tuple[ProposalEvent, ...] | None,
    ) -> ProposalRecord | None:
        """Judge again when the policy changed since the decision. A new deny
        rejects; an ask the votes cast so far don't satisfy requeues."""
        gate = self._gate()
        if gate.policy.version == proposal.decision.policy_version:
            return None  # the usual case: the aggregate's facts are not even asked for
        facts = aggregate_facts(spec.aggregate, proposal.aggregate_id, current)
        judged = policy_input(
            uow, self._clock, principal=proposer_of(proposal),
            command_type=proposal.command_type, payload=proposal.payload,
            proposal=ProposalFacts(
                rationale=proposal.rationale, evidence_refs=proposal.evidence_refs,
                confidence=proposal.confidence,
            ),
            aggregate=facts,
            run_id=proposal.run_id,
        )
        decision = judge(gate, judged, correlation_id=proposal.correlation_id)
        record = decision_record(
            decision, proposal_id=proposal.proposal_id, tenant_id=proposal.tenant_id,
            now=self._clock(), ids=self._ids, judged=judged, stage="execute",
        )
        uow.proposals.add_decision(record)
        if decision.effect == "deny":
            return self._lifecycle.move(
                uow, proposal, "rejected", actor_id=EXECUTOR, decision=record, unsaved=unsaved,
                reason=f"the policy changed and now denies this: {decision.reason}",
            )
        if decision.effect == "ask" and decision.approvers is not None:
            ballots = ballots_of(uow.proposals.votes(proposal.proposal_id))
            approvers = decision.approvers
            if not quorum_met(
                ballots, roles=approvers.roles, count=approvers.count, distinct=approvers.distinct
            ):
                return self._lifecycle.move(
                    uow, proposal, "pending_approval", actor_id=EXECUTOR, decision=record,
                    expires_at=record.expires_at, unsaved=unsaved,
                    reason=f"the policy changed and now asks for more approval: {decision.reason}",
                )
        return None
