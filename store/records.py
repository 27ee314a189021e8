"""The records signoff keeps: envelopes, proposals, votes, messages.

Frozen pydantic models, so a record read back is the record written and can be
hashed, compared and shipped as JSON. Field names follow the seeds' model and are
part of the contract with anything that reads the database or the outbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ActorKind = Literal["agent", "user", "service", "system"]
Outcome = Literal[
    "accepted",
    "rejected",
    "requires_approval",
    "duplicate_accepted",
    "conflict",
    "validation_error",
]
ProposalStatus = Literal[
    "pending_approval",
    "approved",
    # Approved, its effect under way outside signoff (an upstream tool call).
    "executing",
    "executed",
    "rejected",
    "expired",
    "conflict",
    "failed",
    # The effect was attempted and nobody can know whether it happened; a
    # person settles it.
    "outcome_unknown",
    "withdrawn",
]
FINAL_STATUSES: frozenset[str] = frozenset(
    {"executed", "rejected", "expired", "conflict", "failed", "withdrawn"}
)
Verdict = Literal["approve", "reject"]
VoteChannel = Literal["cli", "console", "elicitation", "api"]


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Actor(Record):
    id: str
    kind: ActorKind


class CommandEnvelope(Record):
    command_id: str
    command_type: str
    command_version: int = 1
    tenant_id: str
    actor: Actor
    run_id: str | None = None
    thread_id: str | None = None
    correlation_id: str
    causation_id: str | None = None
    idempotency_key: str | None = None
    expected_aggregate_version: int | None = None
    policy_version: str
    payload_schema: str
    payload: dict[str, Any]


class QueryEnvelope(Record):
    query_id: str
    query_name: str
    tenant_id: str
    actor: Actor
    run_id: str | None = None
    correlation_id: str | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)


class EventEnvelope(Record):
    """A committed fact. `position` is the global order; `hash` covers the
    canonical JSON of every other field plus `prev_hash`, so any edit breaks
    the chain (`signoff audit verify`)."""

    event_id: str
    event_type: str
    event_version: int = 1
    tenant_id: str
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    correlation_id: str | None = None
    causation_id: str | None = None
    run_id: str | None = None
    thread_id: str | None = None
    actor_type: ActorKind
    actor_id: str
    payload_schema: str
    payload: dict[str, Any]
    occurred_at: datetime
    position: int = 0
    prev_hash: str = ""
    hash: str = ""


class DecisionRecord(Record):
    """The gate's decision as stored: what it said and under which policy."""

    decision_id: str
    proposal_id: str
    tenant_id: str
    effect: Literal["allow", "ask", "deny"]
    rule_id: str
    reason: str
    policy_version: str
    approver_roles: tuple[str, ...] = ()
    approvers_required: int = 0
    distinct: bool = False
    confirm: str | None = None
    expires_at: datetime | None = None
    decided_at: datetime
    # "submit" for the first decision, "execute" for a re-evaluation.
    stage: Literal["submit", "execute"] = "submit"
    # What the gate judged beyond the proposal itself (the aggregate's facts
    # and the run's counters), so the decision can be judged again exactly
    # (`policy replay`). None for decisions recorded before signoff kept it.
    judged: dict[str, Any] | None = None


class ProposalRecord(Record):
    proposal_id: str
    tenant_id: str
    command_id: str
    command_type: str
    aggregate_type: str
    aggregate_id: str
    expected_version: int | None
    payload: dict[str, Any]
    payload_digest: str
    actor: Actor
    actor_roles: tuple[str, ...] = ()
    run_id: str | None = None
    thread_id: str | None = None
    correlation_id: str
    idempotency_key: str | None = None
    rationale: str = ""
    evidence_refs: tuple[str, ...] = ()
    confidence: float = 0.0
    status: ProposalStatus
    decision: DecisionRecord
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None
    status_reason: str = ""
    event_ids: tuple[str, ...] = ()


class ProposalEvent(Record):
    """The proposal's own lifecycle stream (proposed, approved, executed, ...),
    kept apart from committed domain events."""

    proposal_id: str
    tenant_id: str
    seq: int
    event_type: str
    actor_id: str
    payload: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime


class Vote(Record):
    vote_id: str
    proposal_id: str
    tenant_id: str
    voter_id: str
    voter_roles: tuple[str, ...]
    verdict: Verdict
    payload_digest: str
    comment: str = ""
    channel: VoteChannel
    cast_at: datetime


class CommandResult(Record):
    """A final proposal read as its command's result (derived, not stored:
    the final proposal itself is the record, and can no longer change)."""


    command_id: str
    proposal_id: str
    tenant_id: str
    outcome: Outcome
    status: ProposalStatus
    message: str = ""
    event_ids: tuple[str, ...] = ()
    recorded_at: datetime


class OutboxMessage(Record):
    message_id: str
    tenant_id: str
    topic: str
    aggregate_id: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    payload: dict[str, Any]
    created_at: datetime
    status: Literal["pending", "published", "dead"] = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    position: int = 0


class RuntimeEntry(Record):
    """One tool call, as the runtime log keeps it."""

    entry_id: str
    tenant_id: str
    principal_id: str
    tool: str
    kind: Literal["query", "command"]
    arguments_digest: str
    outcome: str
    latency_ms: float
    run_id: str | None = None
    # Where run_id came from: "client" (its _meta), or how signoff grouped a
    # client that sent none ("traceparent", "connection", "session", "time_window";
    # older entries may say "idle_gap", the rule time_window replaced).
    run_source: str | None = None
    correlation_id: str | None = None
    proposal_id: str | None = None
    at: datetime
    # What the call carried and what it answered, redacted and bounded
    # (server/mcp/call_record.py): the data `signoff export` writes. None in
    # entries recorded before the log kept them, which have only the digest.
    arguments: dict[str, Any] | None = None
    result: Any = None


class ConsoleSession(Record):
    """A reviewer signed in to the web console. The browser holds a random id;
    only its sha256 is kept, so reading the database opens no session."""

    session_hash: str
    principal_id: str
    # sha256 of the token signed in with, so a rotated token ends the session;
    # None when a trusted proxy vouched for the reviewer instead.
    credential: str | None = None
    created_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str | None = None
    # What the console keeps per session (chosen tenant, pending messages).
    state: dict[str, Any] = Field(default_factory=dict)
