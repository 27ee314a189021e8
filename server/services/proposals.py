"""Submitting a proposal: DESIGN.md's path, steps 2 to 8.

Validation and authorization write nothing. Everything from the idempotency
check on runs as one job on the writer: the checks read the state the record
is written against, and an allowed proposal is executed in the same
transaction (one commit, one fsync).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from signoff.policies import PrincipalFacts
from signoff.server.clock import Clock, IdFactory
from signoff.server.domain import Citations, CommandType, DecideContext, Rejection
from signoff.server.services.executor import Execution, Executor
from signoff.server.services.judging import (
    CurrentGate,
    aggregate_facts,
    count_proposal,
    decision_record,
    judge,
    policy_input,
)
from signoff.server.services.lifecycle import Lifecycle
from signoff.server.services.receipts import FieldProblem, Receipt, receipt_for, refusal
from signoff.server.services.registry import CommandRegistry
from signoff.server.services.submission import CallContext, Given, ProposalMeta, given_of
from signoff.server.services.text import nul_at
from signoff.server.state.aggregates import Loaders, TxStateLoader
from signoff.store.errors import DuplicateRecord
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import OutboxMessage, ProposalEvent, ProposalRecord, ProposalStatus

# Imported from here by the surfaces, which have always found them here.
__all__ = ["MAX_ARGUMENT_BYTES", "META_FIELDS", "CallContext", "ProposalMeta",
           "ProposalService", "problems_of"]

MAX_ARGUMENT_BYTES = 64 * 1024
META_FIELDS = frozenset({"rationale", "evidence_refs", "confidence", "idempotency_key",
                         "expected_version"})
STATUS_BY_EFFECT: dict[str, ProposalStatus] = {
    "allow": "approved", "ask": "pending_approval", "deny": "rejected",
}
def problems_of(error: ValidationError, prefix: str = "") -> list[FieldProblem]:
    return [
        FieldProblem(
            field=prefix + ".".join(str(p) for p in e["loc"]) or "(arguments)", problem=e["msg"]
        )
        for e in error.errors()
    ]


class ProposalService:
    def __init__(
        self, *, store: Store, commands: CommandRegistry, citations: Citations,
        gate: CurrentGate, executor: Executor, lifecycle: Lifecycle, loaders: Loaders,
        clock: Clock, ids: IdFactory,
    ) -> None:
        self._store = store
        self._commands = commands
        self._citations = citations
        self._gate = gate
        self._executor = executor
        self._lifecycle = lifecycle
        self._loaders = loaders
        self._clock = clock
        self._ids = ids

    async def submit(
        self, principal: PrincipalFacts, command_type: str, arguments: Mapping[str, Any],
        call: CallContext | None = None,
    ) -> Receipt:
        call = call or CallContext()
        spec = self._commands.get(command_type)
        if spec is None:
            return refusal(command_type, "rejected", f"unknown command type {command_type!r}")
        checked = self._validate(spec, arguments)
        if isinstance(checked, Receipt):
            return checked
        meta, payload = checked
        if not self._gate().may_propose(principal, command_type):
            return refusal(
                command_type, "rejected",
                f"{principal.id} may not propose {command_type} in tenant {principal.tenant}",
            )
        # What no stored state decides is made here, before the job is queued:
        # the writer runs one job at a time, so its Python is everyone's wait.
        given = given_of(principal, spec, meta, payload, call, self._ids)

        loaders: list[TxStateLoader] = []  # the attempt's, if it got that far

        def record(uow: UnitOfWork) -> Receipt | Execution:
            loaders.clear()
            return self._record(uow, given, loaders)

        try:
            done = await self._store.write(record)
        except DuplicateRecord as exc:
            # Two submissions with one key, side by side in two processes
            # (PostgreSQL): both found the key free and one committed first.
            # Once more, this one finds that proposal and answers as a replay.
            if meta.idempotency_key is None or "idempotency_key" not in exc.key:
                raise
            done = await self._store.write(record)
        for loader in loaders:  # committed: what it saw to exist always will
            self._loaders.committed(loader)
        # The receipt is read off the record after the commit, out of the writer.
        return done if isinstance(done, Receipt) else receipt_for(done.proposal,
                                                                   events=done.events)

    def _validate(
        self, spec: CommandType[Any, Any], arguments: Mapping[str, Any]
    ) -> Receipt | tuple[ProposalMeta, BaseModel]:
        def invalid(problems: list[FieldProblem]) -> Receipt:
            return refusal(spec.name, "validation_error", "invalid arguments", problems=problems)

        try:
            # Encoded as it will be hashed: a lone surrogate is not valid text.
            text = json.dumps(arguments, ensure_ascii=False)
            size = len(text.encode())
        except UnicodeEncodeError:  # a ValueError too: caught before it
            return invalid([FieldProblem(field="(arguments)", problem="not valid Unicode text")])
        except (TypeError, ValueError):
            return invalid([FieldProblem(field="(arguments)", problem="not JSON")])
        if size > MAX_ARGUMENT_BYTES:
            return invalid([FieldProblem(
                field="(arguments)", problem=f"{size} bytes; the limit is {MAX_ARGUMENT_BYTES}")])
        # The dump writes a NUL (in a key too) as the escape \u0000: without
        # that text there is none, and the walk that says where is skipped.
        if "\\u0000" in text and (where := nul_at(arguments)) is not None:
            return invalid([FieldProblem(field=where, problem="contains a NUL character")])
        meta_args = {k: v for k, v in arguments.items() if k in META_FIELDS}
        payload_args = {k: v for k, v in arguments.items() if k not in META_FIELDS}
        problems: list[FieldProblem] = []
        meta: ProposalMeta | None = None
        payload: BaseModel | None = None
        try:
            meta = ProposalMeta.model_validate(meta_args)
        except ValidationError as exc:
            problems += problems_of(exc)
        try:
            payload = spec.payload.model_validate(payload_args)
        except ValidationError as exc:
            problems += problems_of(exc)
        if meta is not None:
            if spec.requires_version and meta.expected_version is None:
                problems.append(FieldProblem(
                    field="expected_version",
                    problem="required: the version of the aggregate you read"))
            if not spec.requires_version and meta.expected_version is not None:
                problems.append(FieldProblem(
                    field="expected_version", problem=f"{spec.tool} takes no expected_version"))
        if problems or meta is None or payload is None:
            return invalid(problems)
        return meta, payload

    def _record(
        self, uow: UnitOfWork, given: Given, loaders: list[TxStateLoader]
    ) -> Receipt | Execution:
        principal, spec, meta, call = given.principal, given.spec, given.meta, given.call
        if meta.idempotency_key is not None:
            seen = uow.proposals.by_idempotency_key(
                principal.tenant, principal.id, meta.idempotency_key)
            if seen is not None:
                return self._replay(uow, spec.name, seen, given.payload_digest)

        aggregate_id = given.aggregate_id
        loader = self._loaders(uow, principal.tenant)
        loaders.append(loader)
        if spec.target is not None:  # a fresh id is nobody else's yet
            uow.events.hold(principal.tenant, spec.aggregate.name, aggregate_id)
        loaded = (loader.load(spec.aggregate, aggregate_id) if spec.target
                  else loader.fresh(spec.aggregate, aggregate_id))
        if spec.target is not None and not loaded.exists:
            return refusal(spec.name, "rejected", f"{spec.aggregate.name} {aggregate_id} not found")
        if meta.expected_version is not None and meta.expected_version != loaded.version:
            return refusal(
                spec.name, "conflict", aggregate_id=aggregate_id,
                reason=f"{spec.aggregate.name} {aggregate_id} is at version {loaded.version}, "
                f"not {meta.expected_version}",
            )
        cited = self._citations.aggregate
        missing = [ref for ref in meta.evidence_refs
                   if cited is not None and not loader.exists(cited, ref)]
        if missing:
            return refusal(spec.name, "rejected", f"evidence {missing[0]} not found")
        context = DecideContext(
            tenant_id=principal.tenant, actor=given.actor,
            aggregate_id=aggregate_id, now=self._clock(), loader=loader,
        )
        precheck = spec.decide(loaded.state, given.payload, context)
        if isinstance(precheck, Rejection):
            return refusal(spec.name, "rejected", precheck.reason, aggregate_id=aggregate_id)

        # Every proposal recorded counts toward the limits, refused ones too.
        # Counted first where a decision can depend on the count (the count
        # then waits for the principal's other proposals in flight, which is
        # what keeps a limit exact across processes); otherwise at the end,
        # so a principal's proposals do not queue behind each other.
        gate = self._gate()  # one policy for the count and the decision
        exact = gate.policy.reads_counts
        counted = count_proposal(uow, principal.id, call.run_id, self._clock()) if exact \
            else None
        judged = policy_input(
            uow, self._clock, principal=principal, command_type=spec.name,
            payload=given.payload_doc, proposal=given.facts,
            aggregate=aggregate_facts(spec.aggregate, aggregate_id, loaded),
            run_id=call.run_id, counted=counted,
        )
        decision = judge(gate, judged, correlation_id=call.correlation_id)
        proposal_id = given.proposal_id
        now = self._clock()  # decided and recorded at one instant
        record = decision_record(
            decision, proposal_id=proposal_id, tenant_id=principal.tenant, now=now,
            ids=self._ids, judged=judged, decision_id=given.decision_id,
        )
        proposal = ProposalRecord(
            proposal_id=proposal_id, tenant_id=principal.tenant, command_id=given.command_id,
            command_type=spec.name, aggregate_type=spec.aggregate.name,
            aggregate_id=aggregate_id, expected_version=meta.expected_version,
            payload=given.payload_doc, payload_digest=given.payload_digest,
            actor=given.actor, actor_roles=principal.roles,
            run_id=call.run_id, thread_id=call.thread_id,
            correlation_id=given.correlation_id,
            idempotency_key=meta.idempotency_key, rationale=meta.rationale,
            evidence_refs=given.facts.evidence_refs, confidence=meta.confidence,
            status=STATUS_BY_EFFECT[decision.effect], decision=record, created_at=now,
            updated_at=now, expires_at=record.expires_at,
            status_reason=decision.reason if decision.effect == "deny" else "",
        )
        proposed = self._write_facts(uow, proposal)
        execution = Execution(proposal)
        if decision.effect == "allow":
            # Executed at once: the proposal row is written once, final, and
            # its first lifecycle entries in one statement with the last.
            executed = self._executor.run(uow, proposal_id, unsaved=proposal,
                                          entries=(proposed,), loader=loader, decided=precheck)
            assert executed is not None, "an allowed proposal is approved"
            execution = executed
        else:
            uow.proposals.add_first_events([proposed])
        proposal = execution.proposal
        if not exact:  # last, so the counter row is held only while committing
            uow.rates.add(proposal.actor.id, proposal.run_id, proposal.created_at)
        uow.proposals.add(proposal)
        return execution

    def _write_facts(self, uow: UnitOfWork, proposal: ProposalRecord) -> ProposalEvent:
        """Everything recorded about a proposal as decided, but its row, its
        count toward the limits and its first lifecycle entry, returned
        unwritten."""
        uow.proposals.add_decision(proposal.decision)
        proposed = self._lifecycle.entry(
            proposal, f"{proposal.command_type}.proposed", proposal.actor.id,
            {"status": proposal.status, "rule_id": proposal.decision.rule_id,
             "payload_digest": proposal.payload_digest},
        )
        if proposal.status == "pending_approval":
            uow.outbox.add([OutboxMessage(
                message_id=self._ids("msg"), tenant_id=proposal.tenant_id,
                topic="approval.requested", aggregate_id=proposal.aggregate_id,
                correlation_id=proposal.correlation_id, causation_id=proposal.command_id,
                payload={
                    "proposal_id": proposal.proposal_id, "command_type": proposal.command_type,
                    "aggregate_id": proposal.aggregate_id,
                    "approver_roles": list(proposal.decision.approver_roles),
                    "approvers_required": proposal.decision.approvers_required,
                    "expires_at": proposal.expires_at.isoformat() if proposal.expires_at else None,
                },
                created_at=proposal.created_at,
            )])
        return proposed

    def _replay(
        self, uow: UnitOfWork, command_type: str, seen: ProposalRecord, payload_digest: str
    ) -> Receipt:
        if seen.payload_digest != payload_digest:
            return refusal(
                command_type, "conflict",
                "this idempotency_key was already used for a different proposal",
                next_step="Use a new idempotency_key for a different proposal.",
            )
        return receipt_for(
            seen, outcome="duplicate_accepted", events=uow.events.by_ids(seen.event_ids),
        )

    async def receipt(self, principal: PrincipalFacts, proposal_id: str) -> Receipt | None:
        """The receipt of a proposal as it stands now, within the caller's tenant."""
        def read(uow: UnitOfWork) -> Receipt | None:
            proposal = uow.proposals.get(proposal_id, principal.tenant)
            if proposal is None:
                return None
            return receipt_for(proposal, events=uow.events.by_ids(proposal.event_ids))

        return await self._store.read(read)
