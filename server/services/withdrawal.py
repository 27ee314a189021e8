"""Withdrawal: a proposer takes back its own proposal before anyone approved it.

Only the principal that proposed it, in the tenant it was proposed in, and
only while it waits for approval with no approving vote cast (a rejection
ends it anyway). Once someone has approved, reviewers have acted on what
they saw, so the proposal runs its course. The check and the move are one
write job: a vote cast meanwhile either lands first (and the withdrawal is
refused) or finds the proposal withdrawn (and the vote is refused). The
lifecycle entry records who withdrew it and when; withdrawing a withdrawn
proposal again changes nothing.
"""

from __future__ import annotations

from signoff.policies import PrincipalFacts
from signoff.server.clock import Clock
from signoff.server.errors import Forbidden, NotFound, Refused
from signoff.server.services.lifecycle import Lifecycle
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import ProposalRecord

MAX_REASON = 500


class WithdrawalService:
    def __init__(self, store: Store, lifecycle: Lifecycle, clock: Clock) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._clock = clock

    async def withdraw(
        self, principal: PrincipalFacts, proposal_id: str, *, reason: str = ""
    ) -> ProposalRecord:
        """The proposal, withdrawn. Raises NotFound (absent, or another
        tenant's), Forbidden (someone else's) or Refused (not withdrawable)."""
        return await self._store.write(
            lambda uow: self._withdraw(uow, principal, proposal_id, reason.strip()[:MAX_REASON]))

    def _withdraw(
        self, uow: UnitOfWork, principal: PrincipalFacts, proposal_id: str, reason: str
    ) -> ProposalRecord:
        proposal = uow.proposals.claim(proposal_id, principal.tenant)
        if proposal is None:
            raise NotFound(f"proposal {proposal_id} not found")
        if proposal.actor.id != principal.id:
            raise Forbidden(f"only its proposer, {proposal.actor.id}, can withdraw "
                            f"proposal {proposal_id}")
        if proposal.status == "withdrawn":
            return proposal
        if proposal.status != "pending_approval":
            raise Refused(f"proposal {proposal_id} is {proposal.status}; only a proposal "
                          "waiting for approval can be withdrawn")
        if proposal.expires_at is not None and proposal.expires_at <= self._clock():
            raise Refused(f"proposal {proposal_id} is expired; nothing is left to withdraw")
        approvers = sorted({v.voter_id for v in uow.proposals.votes(proposal_id)
                            if v.verdict == "approve"})
        if approvers:
            raise Refused(f"proposal {proposal_id} was already approved by "
                          f"{', '.join(approvers)}; it can no longer be withdrawn")
        why = f"withdrawn by {principal.id}" + (f": {reason}" if reason else "")
        return self._lifecycle.move(uow, proposal, "withdrawn", actor_id=principal.id, reason=why)
