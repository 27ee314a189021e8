"""`signoff policy replay`: recorded proposals judged again under another policy.

Reads each proposal made since a point in time with its first decision, a
page at a time, rebuilds the input that decision judged (the proposal plus
what the decision kept: the aggregate's facts, the run's counters) and hands
them to the pure `signoff.policies.replay`. A decision recorded before
signoff kept its input is counted as missing, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from signoff.policies import Policy
from signoff.policies.replay import Recorded, ReplayReport, replay
from signoff.server.services.judging import recorded_input
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import DecisionRecord, ProposalRecord

PAGE = 1000
Pair = tuple[ProposalRecord, DecisionRecord]


def recorded(pair: Pair) -> Recorded:
    proposal, decision = pair
    return Recorded(
        proposal_id=proposal.proposal_id, command_type=proposal.command_type,
        effect=decision.effect, rule_id=decision.rule_id,
        approvers_required=decision.approvers_required, distinct=decision.distinct,
        approver_roles=tuple(decision.approver_roles), confirm=decision.confirm,
        judged=recorded_input(proposal, decision))


async def recorded_since(
    store: Store, since: datetime, tenant: str | None,
    progress: Callable[[int], None] = lambda _n: None,
) -> list[Recorded]:
    """Every proposal since `since` with its first decision, oldest first."""
    found: list[Recorded] = []
    after: str | None = None
    while True:
        def page(uow: UnitOfWork, after: str | None = after) -> list[Pair]:
            return uow.proposals.decided_since(since, tenant_id=tenant, after=after,
                                               limit=PAGE)

        rows = await store.read(page)
        found += map(recorded, rows)
        progress(len(found))
        if len(rows) < PAGE:
            return found
        after = rows[-1][0].proposal_id


async def replay_since(
    store: Store, policy: Policy, since: datetime, tenant: str | None = None,
    progress: Callable[[int], None] = lambda _n: None,
) -> ReplayReport:
    return replay(policy, await recorded_since(store, since, tenant, progress))
