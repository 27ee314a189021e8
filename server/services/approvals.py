"""Votes on pending proposals, expiry, and handing approved ones to the executor.

A vote is checked and recorded in one write job with the quorum check and,
when the quorum is reached, the execution itself: there is no moment where a
proposal is approved but nobody is going to execute it. A refused vote writes
nothing; a proposal past its deadline is refused at vote time and marked
expired by the sweep (`expire_due`), which serve and the console run
periodically and the review CLI runs before each vote.
"""

from __future__ import annotations

from dataclasses import dataclass

from signoff.policies import PrincipalFacts
from signoff.server.clock import Clock, IdFactory
from signoff.server.errors import Forbidden, InvalidInput, NotFound, Refused
from signoff.server.services.executor import Execution, Executor
from signoff.server.services.lifecycle import Lifecycle
from signoff.server.services.quorum import ballots_of, quorum_met, still_needed
from signoff.store.errors import DuplicateVote
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import OutboxMessage, ProposalRecord, Verdict, Vote, VoteChannel

EXPIRY = "system:expiry"


@dataclass(frozen=True)
class VoteResult:
    proposal: ProposalRecord
    vote: Vote
    still_needed: str
    execution: Execution | None = None


class ApprovalService:
    def __init__(
        self, store: Store, executor: Executor, lifecycle: Lifecycle, clock: Clock,
        ids: IdFactory,
    ) -> None:
        self._store = store
        self._executor = executor
        self._lifecycle = lifecycle
        self._clock = clock
        self._ids = ids

    async def approve(
        self, voter: PrincipalFacts, proposal_id: str, *, digest: str | None,
        channel: VoteChannel, comment: str = "",
    ) -> VoteResult:
        return await self._store.write(
            lambda uow: self._vote(uow, voter, proposal_id, "approve", digest, comment, channel)
        )

    async def reject(
        self, voter: PrincipalFacts, proposal_id: str, *, reason: str, digest: str | None,
        channel: VoteChannel,
    ) -> VoteResult:
        if not reason.strip():
            raise InvalidInput("a rejection needs a reason")
        return await self._store.write(
            lambda uow: self._vote(uow, voter, proposal_id, "reject", digest, reason, channel)
        )

    def _vote(
        self, uow: UnitOfWork, voter: PrincipalFacts, proposal_id: str, verdict: Verdict,
        digest: str | None, comment: str, channel: VoteChannel,
    ) -> VoteResult:
        proposal = uow.proposals.claim(proposal_id, voter.tenant)
        if proposal is None:
            raise NotFound(f"proposal {proposal_id} not found")
        if voter.kind == "agent":
            raise Forbidden("agents cannot approve or reject proposals")
        if voter.kind != "user":
            raise Forbidden("only people can approve or reject proposals")
        if voter.id == proposal.actor.id:
            raise Forbidden("you proposed this; someone else must review it")
        if proposal.status != "pending_approval":
            raise Refused(f"proposal {proposal_id} is {proposal.status}, not pending approval")
        if proposal.expires_at is not None and proposal.expires_at <= self._clock():
            # Past its deadline but not swept yet: the next sweep marks it.
            raise Refused(f"proposal {proposal_id} is expired, not pending approval")
        decision = proposal.decision
        roles = tuple(r for r in voter.roles if r in decision.approver_roles)
        if not roles:
            raise Forbidden(
                f"reviewing this needs the role {' or '.join(decision.approver_roles)}; "
                f"{voter.id} has {', '.join(voter.roles) or 'no roles'}"
            )
        if digest is not None and digest != proposal.payload_digest:
            raise Refused("the proposal is not the one you reviewed (payload digest differs)")
        vote = Vote(
            vote_id=self._ids("vote"), proposal_id=proposal_id, tenant_id=proposal.tenant_id,
            voter_id=voter.id, voter_roles=roles, verdict=verdict,
            payload_digest=proposal.payload_digest, comment=comment, channel=channel,
            cast_at=self._clock(),
        )
        try:
            uow.proposals.add_vote(vote)
        except DuplicateVote as exc:
            raise Refused(str(exc)) from exc
        self._lifecycle.note(uow, proposal, "proposal.vote_cast", voter.id, {
            "verdict": verdict, "channel": channel, "roles": list(roles),
        })
        if verdict == "reject":
            rejected = self._lifecycle.move(
                uow, proposal, "rejected", actor_id=voter.id,
                reason=f"rejected by {voter.id}: {comment}",
            )
            return VoteResult(rejected, vote, still_needed="nothing: rejected")
        return self._count(uow, proposal, vote, reason="quorum reached")

    def _count(
        self, uow: UnitOfWork, proposal: ProposalRecord, vote: Vote, *, reason: str
    ) -> VoteResult:
        """After an approving vote: approve and execute once the quorum is
        reached, in the vote's own transaction; else say who is still needed."""
        decision = proposal.decision
        ballots = ballots_of(uow.proposals.votes(proposal.proposal_id))
        roles, count = decision.approver_roles, decision.approvers_required
        if not quorum_met(ballots, roles=roles, count=count, distinct=decision.distinct):
            needed = still_needed(ballots, roles=roles, count=count, distinct=decision.distinct)
            return VoteResult(proposal, vote, still_needed=needed)
        self._lifecycle.move(uow, proposal, "approved", actor_id=vote.voter_id, reason=reason)
        execution = self._executor.run(uow, proposal.proposal_id)
        final = execution.proposal if execution else proposal
        return VoteResult(final, vote, still_needed=f"nothing: {reason}", execution=execution)

    async def confirm_as_requester(
        self, voter: PrincipalFacts, proposal_id: str, *, accept: bool, digest: str,
    ) -> VoteResult | None:
        """The requester's own answer, asked in their MCP client (elicitation),
        on a proposal whose rule says `confirm = "requester"`.

        Semantics: such a rule lets the requester stand as one of its own
        approvers, which the separation of duties forbids otherwise — and no
        more than that. The requester must hold one of the approvers clause's
        roles (an analyst cannot confirm what only a supervisor may approve),
        and the confirmation is one approve vote (channel "elicitation", with
        those roles): it executes the proposal in the same transaction only if
        that vote completes the quorum, as any other vote would. Only a human
        (kind user) who proposed it may confirm, only while it is pending and
        unexpired, only for the payload digest they were shown; an agent's
        proposal can never be confirmed this way. A decline is noted in
        the lifecycle and changes nothing else (None is returned): the proposal
        stays in the queue for the reviewers, never auto-approved or rejected.
        """

        def confirm(uow: UnitOfWork) -> VoteResult | None:
            proposal = uow.proposals.claim(proposal_id, voter.tenant)
            if proposal is None:
                raise NotFound(f"proposal {proposal_id} not found")
            decision = proposal.decision
            if voter.kind != "user" or proposal.actor.kind != "user" or (
                    voter.id != proposal.actor.id):
                raise Forbidden("only the person who proposed this can confirm it")
            if decision.confirm != "requester":
                raise Forbidden(f"rule {decision.rule_id} does not let the requester confirm; "
                                "a reviewer must decide")
            if proposal.status != "pending_approval" or (
                    proposal.expires_at is not None and proposal.expires_at <= self._clock()):
                status = "expired" if proposal.status == "pending_approval" else proposal.status
                raise Refused(f"proposal {proposal_id} is {status}, not pending approval")
            roles = tuple(r for r in voter.roles if r in decision.approver_roles)
            if not roles:
                raise Forbidden(
                    f"confirming this needs the role {' or '.join(decision.approver_roles)}; "
                    f"{voter.id} has {', '.join(voter.roles) or 'no roles'}")
            if digest != proposal.payload_digest:
                raise Refused("the proposal is not the one you reviewed (payload digest differs)")
            if not accept:
                self._lifecycle.note(uow, proposal, "proposal.confirmation_declined", voter.id,
                                     {"channel": "elicitation"})
                return None
            vote = Vote(
                vote_id=self._ids("vote"), proposal_id=proposal_id,
                tenant_id=proposal.tenant_id, voter_id=voter.id, voter_roles=roles,
                verdict="approve", payload_digest=proposal.payload_digest,
                comment="confirmed by the requester", channel="elicitation",
                cast_at=self._clock(),
            )
            try:
                uow.proposals.add_vote(vote)
            except DuplicateVote as exc:
                raise Refused(str(exc)) from exc
            self._lifecycle.note(uow, proposal, "proposal.vote_cast", voter.id, {
                "verdict": "approve", "channel": "elicitation", "roles": list(roles),
                "as": "requester",
            })
            return self._count(uow, proposal, vote, reason=(
                f"confirmed by the requester; rule {decision.rule_id} allows it"))

        return await self._store.write(confirm)

    async def expire_due(self) -> list[ProposalRecord]:
        """Mark every pending proposal past its expiry as expired."""
        return await self._store.write(self._expire)

    def _expire(self, uow: UnitOfWork) -> list[ProposalRecord]:
        now = self._clock()
        expired = []
        for proposal in uow.proposals.due_for_expiry(now):
            moved = self._lifecycle.move(
                uow, proposal, "expired", actor_id=EXPIRY,
                reason="no decision before the approval deadline",
            )
            uow.outbox.add([OutboxMessage(
                message_id=self._ids("msg"), tenant_id=moved.tenant_id, topic="approval.expired",
                aggregate_id=moved.aggregate_id, correlation_id=moved.correlation_id,
                causation_id=moved.command_id, created_at=now,
                payload={"proposal_id": moved.proposal_id, "command_type": moved.command_type},
            )])
            expired.append(moved)
        return expired
