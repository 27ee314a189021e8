"""Settling an upstream call whose outcome is unknown: a person says what
happened (`succeeded`, `failed`) or asks for one more attempt (`retry`).

Only someone the proposal's rule accepts as an approver may settle it (for a
rule that asked for approvers: one of its roles; for a call the policy allowed
outright: any person of the tenant), never an agent, never the proposer; the
settlement is a committed fact with who and why.
"""

from __future__ import annotations

from typing import Literal

from signoff.policies import PrincipalFacts
from signoff.server.errors import Forbidden, InvalidInput, NotFound, Refused
from signoff.server.gateway.calls import RESOLVED, RETRY, TOOL_CALL
from signoff.server.gateway.settle import Settler
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import Actor, ProposalRecord

Resolution = Literal["succeeded", "failed", "retry"]
RESOLUTIONS: tuple[Resolution, ...] = ("succeeded", "failed", "retry")


class Resolutions:
    def __init__(self, *, store: Store, settler: Settler) -> None:
        self._store = store
        self._settler = settler

    async def resolve(
        self, person: PrincipalFacts, proposal_id: str, outcome: Resolution, reason: str,
    ) -> ProposalRecord:
        if outcome not in RESOLUTIONS:
            raise InvalidInput(f"the outcome must be one of {', '.join(RESOLUTIONS)}")
        if not reason.strip():
            raise InvalidInput("settling a call needs a reason")
        return await self._store.write(
            lambda uow: self._resolve(uow, person, proposal_id, outcome, reason.strip()))

    def _resolve(
        self, uow: UnitOfWork, person: PrincipalFacts, proposal_id: str, outcome: Resolution,
        reason: str,
    ) -> ProposalRecord:
        proposal = uow.proposals.claim(proposal_id, person.tenant)
        if proposal is None:
            raise NotFound(f"proposal {proposal_id} not found")
        if proposal.aggregate_type != TOOL_CALL.name:
            raise Refused(f"proposal {proposal_id} is not an upstream call")
        if person.kind != "user":
            raise Forbidden("only people can settle an upstream call")
        if person.id == proposal.actor.id:
            raise Forbidden("you proposed this; someone else must settle it")
        roles = proposal.decision.approver_roles
        if roles and not set(person.roles) & set(roles):
            raise Forbidden(f"settling this needs the role {' or '.join(roles)}; {person.id} "
                            f"has {', '.join(person.roles) or 'no roles'}")
        if proposal.status != "outcome_unknown":
            raise Refused(f"proposal {proposal_id} is {proposal.status}; only a call whose "
                          "outcome is unknown can be settled")
        loaded = self._settler.load(uow, proposal.tenant_id, proposal.aggregate_id)
        actor = Actor(id=person.id, kind=person.kind)
        said = {"by": person.id, "reason": reason}
        if outcome == "retry":
            _, moved = self._settler.record(
                uow, proposal, loaded.version, RETRY, said, status="executing", actor=actor,
                reason=f"{person.id} asked for one more attempt: {reason}")
        else:
            _, moved = self._settler.record(
                uow, proposal, loaded.version, RESOLVED, {"outcome": outcome, **said},
                status="executed" if outcome == "succeeded" else "failed", actor=actor,
                reason=f"settled as {outcome} by {person.id}: {reason}")
        return moved
