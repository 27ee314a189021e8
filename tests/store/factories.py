"""Record factories for the store contract tests: fixed times, explicit ids.

Every factory takes the few fields a test varies and fills the rest with
fixed, valid values, so a test reads as the difference that matters.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from signoff.store.canonical import digest, event_hash
from signoff.store.records import (
    Actor,
    CommandResult,
    DecisionRecord,
    EventEnvelope,
    OutboxMessage,
    ProposalEvent,
    ProposalRecord,
    ProposalStatus,
    RuntimeEntry,
    Vote,
)

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
TENANT = "acme"
OTHER_TENANT = "globex"


def at(minutes: float) -> datetime:
    """T0 plus `minutes`: every time in the suite is relative to one instant."""
    return T0 + timedelta(minutes=minutes)


def event(
    aggregate_id: str = "case-1",
    version: int = 1,
    *,
    tenant_id: str = TENANT,
    aggregate_type: str = "case",
    event_type: str = "case.opened",
    event_id: str | None = None,
    payload: dict[str, Any] | None = None,
    occurred_at: datetime = T0,
) -> EventEnvelope:
    return EventEnvelope(
        event_id=event_id or f"ev-{tenant_id}-{aggregate_type}-{aggregate_id}-{version}",
        event_type=event_type,
        tenant_id=tenant_id,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        correlation_id="corr-1",
        causation_id="cmd-1",
        run_id="run-1",
        thread_id="thread-1",
        actor_type="agent",
        actor_id="agent-1",
        payload_schema=f"{event_type}/v1",
        payload={"n": version} if payload is None else payload,
        occurred_at=occurred_at,
    )


def decision(
    proposal_id: str = "prop-1",
    *,
    tenant_id: str = TENANT,
    effect: Literal["allow", "ask", "deny"] = "ask",
    stage: Literal["submit", "execute"] = "submit",
    decided_at: datetime = T0,
) -> DecisionRecord:
    return DecisionRecord(
        decision_id=f"dec-{proposal_id}-{stage}",
        proposal_id=proposal_id,
        tenant_id=tenant_id,
        effect=effect,
        rule_id="escalations-need-a-supervisor",
        reason="escalation needs a supervisor",
        policy_version="policy-7",
        approver_roles=("supervisor",),
        approvers_required=1,
        distinct=True,
        confirm="ESCALATE case-1",
        expires_at=T0 + timedelta(hours=1),
        decided_at=decided_at,
        stage=stage,
    )


def proposal(
    proposal_id: str = "prop-1",
    *,
    tenant_id: str = TENANT,
    status: ProposalStatus = "pending_approval",
    command_type: str = "case.escalate",
    actor_id: str = "agent-1",
    run_id: str | None = "run-1",
    created_at: datetime = T0,
    expires_at: datetime | None = None,
    correlation_id: str | None = None,
    idempotency_key: str | None = None,
) -> ProposalRecord:
    payload = {"case_id": "case-1", "reason": "Frist überschritten — 期限"}
    return ProposalRecord(
        proposal_id=proposal_id,
        tenant_id=tenant_id,
        command_id=f"cmd-{proposal_id}",
        command_type=command_type,
        aggregate_type="case",
        aggregate_id="case-1",
        expected_version=3,
        payload=payload,
        payload_digest=digest(payload),
        actor=Actor(id=actor_id, kind="agent"),
        actor_roles=("analyst", "triage"),
        run_id=run_id,
        thread_id="thread-1",
        correlation_id=correlation_id or f"corr-{proposal_id}",
        idempotency_key=idempotency_key or f"idem-{proposal_id}",
        rationale="the deadline passed",
        evidence_refs=("evidence:ev-1", "evidence:ev-2"),
        confidence=0.75,
        status=status,
        decision=decision(proposal_id, tenant_id=tenant_id),
        created_at=created_at,
        updated_at=created_at,
        expires_at=expires_at,
    )


def proposal_event(
    proposal_id: str, seq: int, event_type: str = "proposal.proposed", *,
    tenant_id: str = TENANT,
) -> ProposalEvent:
    return ProposalEvent(
        proposal_id=proposal_id, tenant_id=tenant_id, seq=seq, event_type=event_type,
        actor_id="agent-1", payload={"seq": seq}, occurred_at=at(seq),
    )


def vote(
    proposal_id: str = "prop-1", voter_id: str = "alice", *, vote_id: str | None = None,
    tenant_id: str = TENANT,
) -> Vote:
    return Vote(
        vote_id=vote_id or f"vote-{proposal_id}-{voter_id}",
        proposal_id=proposal_id, tenant_id=tenant_id, voter_id=voter_id,
        voter_roles=("supervisor",), verdict="approve", payload_digest="d" * 64,
        comment="ok", channel="cli", cast_at=at(5),
    )


def command_result(
    proposal_id: str = "prop-1", command_id: str = "cmd-1", *, status: ProposalStatus = "executed",
    message: str = "",
) -> CommandResult:
    return CommandResult(
        command_id=command_id, proposal_id=proposal_id, tenant_id=TENANT, outcome="accepted",
        status=status, message=message, event_ids=("ev-1", "ev-2"), recorded_at=at(1),
    )


def outbox_message(
    message_id: str, *, correlation_id: str | None = "corr-1",
    next_attempt_at: datetime | None = None, topic: str = "notice.send",
    aggregate_id: str | None = "notice-1", causation_id: str | None = "ev-1",
    tenant_id: str = TENANT,
) -> OutboxMessage:
    return OutboxMessage(
        message_id=message_id, tenant_id=tenant_id, topic=topic, aggregate_id=aggregate_id,
        correlation_id=correlation_id, causation_id=causation_id,
        payload={"to": "régulateur@example.org", "lines": ["a", "b"]},
        created_at=T0, next_attempt_at=next_attempt_at,
    )


def runtime_entry(
    entry_id: str, *, run_id: str | None = None, correlation_id: str | None = None,
    proposal_id: str | None = None,
) -> RuntimeEntry:
    return RuntimeEntry(
        entry_id=entry_id, tenant_id=TENANT, principal_id="agent-1", tool="fetch_case",
        kind="query", arguments_digest="a" * 64, outcome="ok", latency_ms=1.5, run_id=run_id,
        correlation_id=correlation_id, proposal_id=proposal_id, at=T0,
    )


def chain_breaks(events: Sequence[EventEnvelope]) -> list[str]:
    """Why `events` (the whole log, in position order) is not an intact chain;
    empty when it is. Positions must be 1..n, each prev_hash the previous
    hash, each hash the event's own."""
    problems: list[str] = []
    previous = ""
    for expected_position, e in enumerate(events, start=1):
        if e.position != expected_position:
            problems.append(f"{e.event_id}: position {e.position}, expected {expected_position}")
        if e.prev_hash != previous:
            problems.append(f"{e.event_id}: prev_hash does not link to position {e.position - 1}")
        if e.hash != event_hash(e):
            problems.append(f"{e.event_id}: hash does not match its content")
        previous = e.hash
    return problems
