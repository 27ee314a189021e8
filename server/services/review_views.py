"""What a reviewer is shown: the queue's rows and one proposal in full.

Plain records, shared by `signoff review`, the web console and in-client
confirmation, so a reviewer sees the same facts whichever door they use.
What an agent wrote (rationale, confidence, evidence refs) is its claim;
evidence titles come from the read models, never from the agent.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from signoff.server.services.receipts import EventView
from signoff.store.records import DecisionRecord, Vote

# Queue filters: a proposal status, or "all".
STATUSES = ("pending_approval", "approved", "executing", "executed", "rejected", "expired",
            "conflict", "failed", "outcome_unknown", "withdrawn", "all")


class QueueItem(BaseModel):
    """One row of the approval queue (`review list`, the console's table)."""

    proposal_id: str
    tenant_id: str
    status: str
    command_type: str
    # What the proposal would do, in one line (None: the command says not).
    summary: str | None = None
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
    """A cited ref. `found` is None where the domain does not check refs
    (free-form citations): then the ref is only the agent's claim."""

    ref: str
    found: bool | None
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


class ReviewField(BaseModel):
    """A field the command says a reviewer must see, and where it came from:
    the payload, or the aggregate's state after the change."""

    name: str
    value: Any
    source: Literal["payload", "state"]


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
    # Fields whose new value exists only once committed (an event's id),
    # with what it will be: their `after` is None, never a stand-in value.
    given_on_commit: dict[str, str] = {}
    # projection name -> its current document for this aggregate
    read_models: dict[str, dict[str, Any]] = {}


class ProposalView(BaseModel):
    """Everything `review show` prints and the console's proposal page shows."""

    proposal_id: str
    tenant_id: str
    status: str
    status_reason: str
    command_type: str
    summary: str | None = None
    # What the command says a reviewer must see (shown before the rest).
    review_fields: list[ReviewField] = []
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
    # For a call to an upstream tool: the arguments and what approving will
    # call, then the upstream's pinned description and annotations (untrusted
    # text, capped), as the gateway describes it.
    call: dict[str, Any] | None = None


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
