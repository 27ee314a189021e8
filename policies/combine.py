"""How matching rules combine into one effect, and several asks into one demand.

deny beats ask beats allow; nothing matching is a deny. Several matching asks
must all be satisfied by one round of approval, so they merge into a demand at
least as strict as each of them: the most votes, every role named, the shortest
expiry. A union of roles on its own would be *looser* (any one of them would do),
so when the asks name different role sets the merged demand also becomes
`distinct`: each role covered by a different person. A requester confirmation
survives only if every ask allows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from signoff.policies.model import Approvers, Effect

RANK: dict[Effect, int] = {"allow": 0, "ask": 1, "deny": 2}


def winner(effects: Iterable[Effect]) -> Effect:
    """The effect of a set of matching rules; deny when the set is empty."""
    best: Effect | None = None
    for effect in effects:
        if best is None or RANK[effect] > RANK[best]:
            best = effect
    return best if best is not None else "deny"


def strictest(demands: Sequence[Approvers]) -> Approvers:
    """One approval demand that satisfies every demand in `demands`."""
    if not demands:
        raise ValueError("strictest() needs at least one approvers demand")
    if len(demands) == 1:
        return demands[0]
    roles = tuple(dict.fromkeys(role for d in demands for role in d.roles))
    role_sets = {frozenset(d.roles) for d in demands}
    distinct = any(d.distinct for d in demands) or len(role_sets) > 1
    count = max(d.count for d in demands)
    if distinct:
        count = max(count, len(roles))
    every_confirms = all(d.confirm == "requester" for d in demands)
    return Approvers(
        roles=roles,
        count=count,
        distinct=distinct,
        expires_in=min(d.expires_in for d in demands),
        confirm="requester" if every_confirms else None,
    )
