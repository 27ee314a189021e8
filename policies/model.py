"""What the gate reads and what it answers.

`PolicyInput` is everything a rule may look at; `Decision` is the gate's whole
answer. Both are frozen so a decision can be stored and compared verbatim, and
both are plain data: the gate never reaches outside them (no clock, no store).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Effect = Literal["allow", "ask", "deny"]
PrincipalKind = Literal["agent", "user", "service"]

DEFAULT_APPROVAL_TTL = timedelta(hours=24)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PrincipalFacts(_Frozen):
    """Who is proposing, as the transport established it (never from arguments)."""

    id: str
    kind: PrincipalKind
    tenant: str
    roles: tuple[str, ...] = ()


class ProposalFacts(_Frozen):
    """What the agent claims about its proposal. Claims, not facts: rules may
    weigh them, nothing downstream trusts them."""

    rationale: str = ""
    evidence_refs: tuple[str, ...] = ()
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)


class AggregateFacts(_Frozen):
    """The target aggregate's current state, as far as the domain exposes it."""

    type: str
    id: str
    version: int
    status: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)


class RunFacts(_Frozen):
    """The agent run this proposal belongs to, with the counters limits need."""

    id: str | None = None
    proposals_so_far: int = 0
    principal_proposals_last_hour: int = 0


class PolicyInput(_Frozen):
    principal: PrincipalFacts
    command_type: str
    payload: dict[str, Any] = Field(default_factory=dict)
    proposal: ProposalFacts = ProposalFacts()
    aggregate: AggregateFacts | None = None
    run: RunFacts = RunFacts()


class Approvers(_Frozen):
    """Who must sign off an `ask`: `count` votes from holders of `roles`; with
    `distinct`, every listed role must be covered by a different person."""

    roles: tuple[str, ...]
    count: int = Field(default=1, ge=1)
    distinct: bool = False
    expires_in: timedelta = DEFAULT_APPROVAL_TTL
    # "requester": the human who asked may confirm in their own MCP client.
    confirm: Literal["requester"] | None = None


class RuleTrace(_Frozen):
    """One rule's part in a decision, for `policy explain` and the audit trail."""

    rule_id: str
    effect: Effect
    matched: bool
    # Why it did or did not match, or the evaluation error when it failed.
    note: str = ""
    error: str | None = None


class Decision(_Frozen):
    effect: Effect
    rule_id: str
    reason: str
    policy_version: str
    approvers: Approvers | None = None
    trace: tuple[RuleTrace, ...] = ()

    @property
    def expires_in(self) -> timedelta | None:
        return self.approvers.expires_in if self.approvers else None
