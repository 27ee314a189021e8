"""What a submission is recorded with besides the stored state: its
validated arguments, and everything that follows from them alone (the
payload's document and digest, the ids, the proposer's facts).

`given_of` makes all of it before the writer job is queued: the writer runs
one job at a time, so every microsecond of Python inside it is everyone's
wait (issue 13). What the job still computes is what the stored state
decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from signoff.policies import PrincipalFacts, ProposalFacts
from signoff.server.clock import IdFactory
from signoff.server.domain import CommandType
from signoff.server.services.executor import digest_of
from signoff.store.records import Actor

Ref = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class ProposalMeta(BaseModel):
    """What every command tool takes besides the command's own payload."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rationale: str = Field(default="", max_length=4000)
    evidence_refs: list[Ref] = Field(default_factory=list, max_length=50)
    confidence: float = Field(ge=0.0, le=1.0)
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$"
    )
    expected_version: int | None = Field(default=None, ge=0)


@dataclass(frozen=True)
class CallContext:
    """Ids that tie a call to the agent's run, from the request's `_meta`."""

    run_id: str | None = None
    thread_id: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True)
class Given:
    """A submission's validated arguments and what follows from them alone
    (digest, ids, facts): everything its record needs but the stored state."""

    principal: PrincipalFacts
    spec: CommandType[Any, Any]
    meta: ProposalMeta
    payload: BaseModel
    call: CallContext
    payload_doc: dict[str, Any]
    payload_digest: str
    aggregate_id: str
    actor: Actor
    facts: ProposalFacts
    proposal_id: str
    command_id: str
    decision_id: str
    correlation_id: str


def given_of(
    principal: PrincipalFacts, spec: CommandType[Any, Any], meta: ProposalMeta,
    payload: BaseModel, call: CallContext, ids: IdFactory,
) -> Given:
    payload_doc = payload.model_dump(mode="json")
    return Given(
        principal=principal, spec=spec, meta=meta, payload=payload, call=call,
        payload_doc=payload_doc,
        payload_digest=digest_of(spec, payload_doc, meta.expected_version),
        # A command that creates its aggregate names it with a fresh id.
        aggregate_id=spec.target(payload) if spec.target else ids(spec.aggregate.name),
        actor=Actor(id=principal.id, kind=principal.kind),
        facts=ProposalFacts(rationale=meta.rationale, evidence_refs=tuple(meta.evidence_refs),
                            confidence=meta.confidence),
        proposal_id=ids("prop"), command_id=ids("cmd"), decision_id=ids("dec"),
        correlation_id=call.correlation_id or ids("corr"),
    )
