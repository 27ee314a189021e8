"""Settling an upstream call whose outcome is unknown: a person says what
happened (`succeeded`, `failed`) or asks for one more attempt (`retry`).

Only someone the proposal's rule accepts as an approver may settle it (for a
rule that asked for approvers: one of its roles; for a call the policy allowed
outright: any person of the tenant), never an agent, never the proposer; the
settlement is a committed fact with who and why.

A domain's own outside call (the assistant's `call_api`) follows the same
protocol on an aggregate of the domain's, where the unknown outcome is the
call's, not the proposal's (that proposal executed: the call was asked
for). For a proposal of an aggregate the domain `Settles`, the settlement is
the domain's command, proposed as the person: its policy says who may, and
its `decide` that the call's outcome is unknown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

from signoff.policies import PrincipalFacts
from signoff.server.domain import Settles
from signoff.server.errors import Forbidden, InvalidInput, NotFound, Refused
from signoff.server.gateway.calls import RESOLVED, RETRY, TOOL_CALL
from signoff.server.gateway.settle import Settler
from signoff.server.services.receipts import Receipt
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import Actor, ProposalRecord

# ProposalService.submit: the person's settlement of a domain's call goes
# through the policy and the executor like any proposal.
Submit = Callable[[PrincipalFacts, str, Mapping[str, Any]], Awaitable[Receipt]]

Resolution = Literal["succeeded", "failed", "retry"]
RESOLUTIONS: tuple[Resolution, ...] = ("succeeded", "failed", "retry")


class Resolutions:
    def __init__(self, *, store: Store, settler: Settler, settles: Sequence[Settles] = (),
                 submit: Submit | None = None) -> None:
        self._store = store
        self._settler = settler
        self._settles = {s.aggregate: s for s in settles}
        self._submit = submit

    async def resolve(
        self, person: PrincipalFacts, proposal_id: str, outcome: Resolution, reason: str,
    ) -> ProposalRecord:
        if outcome not in RESOLUTIONS:
            raise InvalidInput(f"the outcome must be one of {', '.join(RESOLUTIONS)}")
        if not reason.strip():
            raise InvalidInput("settling a call needs a reason")
        asked = await self._store.read(lambda uow: uow.proposals.get(proposal_id, person.tenant))
        settles = self._settles.get(asked.aggregate_type) if asked is not None else None
        if asked is not None and settles is not None:
            return await self._in_domain(person, asked, settles, outcome, reason.strip())
        return await self._store.write(
            lambda uow: self._resolve(uow, person, proposal_id, outcome, reason.strip()))

    async def _in_domain(self, person: PrincipalFacts, asked: ProposalRecord,
                         settles: Settles, outcome: Resolution, reason: str) -> ProposalRecord:
        """The domain's settling command, proposed as `person`; its record."""
        if person.kind != "user":
            raise Forbidden("only people can settle an outside call")
        if self._submit is None:
            raise Refused(f"proposal {asked.proposal_id} is not an upstream call")
        # A person says what they found: no agent's confidence to weigh.
        receipt = await self._submit(person, settles.command, {
            settles.id_field: asked.aggregate_id, "outcome": outcome, "reason": reason,
            "rationale": reason, "confidence": 1.0})
        settled_id = receipt.proposal_id
        if receipt.status in ("rejected", "conflict", "failed") or settled_id is None:
            raise Refused(receipt.reason or f"{settles.command} was {receipt.status}")
        settled = await self._store.read(lambda uow: uow.proposals.get(settled_id, None))
        assert settled is not None, settled_id  # just committed
        return settled

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
