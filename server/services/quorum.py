"""Whether the votes cast so far satisfy a decision's approvers clause.

Pure: takes votes and the clause, answers yes/no and what is still missing.
With `distinct`, every named role must be covered by a different person,
which is a small bipartite matching (a person may hold several roles).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from signoff.store.records import Vote


@dataclass(frozen=True)
class Ballot:
    voter_id: str
    roles: frozenset[str]


def ballots_of(votes: Iterable[Vote]) -> list[Ballot]:
    """The approvals among `votes`: a rejection is no ballot."""
    return [Ballot(v.voter_id, frozenset(v.voter_roles)) for v in votes if v.verdict == "approve"]


def _can_cover(roles: Sequence[str], ballots: Sequence[Ballot]) -> bool:
    """Augmenting-path matching of roles to distinct voters."""
    holder: dict[str, str] = {}  # voter_id -> role it covers

    def assign(role: str, seen: set[str]) -> bool:
        for ballot in ballots:
            if role in ballot.roles and ballot.voter_id not in seen:
                seen.add(ballot.voter_id)
                taken = holder.get(ballot.voter_id)
                if taken is None or assign(taken, seen):
                    holder[ballot.voter_id] = role
                    return True
        return False

    return all(assign(role, set()) for role in roles)


def eligible(ballots: Sequence[Ballot], roles: Sequence[str]) -> list[Ballot]:
    wanted = set(roles)
    return [b for b in ballots if b.roles & wanted]


def quorum_met(
    ballots: Sequence[Ballot], *, roles: Sequence[str], count: int, distinct: bool
) -> bool:
    valid = eligible(ballots, roles)
    if len({b.voter_id for b in valid}) < count:
        return False
    return not distinct or _can_cover(roles, valid)


def still_needed(
    ballots: Sequence[Ballot], *, roles: Sequence[str], count: int, distinct: bool
) -> str:
    """A short phrase for reviewers: what would complete the quorum."""
    if quorum_met(ballots, roles=roles, count=count, distinct=distinct):
        return "nothing: quorum reached"
    valid = eligible(ballots, roles)
    missing = max(count - len(valid), 0)
    if not distinct:
        plural = "s" if missing > 1 else ""
        return f"{missing} more approval{plural} from {' or '.join(roles)}"
    uncovered = [r for r in roles if not any(r in b.roles for b in valid)]
    parts = []
    if len(uncovered) == 1:
        parts.append(f"an approval from {uncovered[0]}")
    elif uncovered:
        parts.append("one approval each from " + " and ".join(uncovered))
    elif missing == 0 and not _can_cover(roles, valid):
        parts.append("a different person for each of " + ", ".join(roles))
    extra = missing - len(uncovered)  # approvals still needed beyond covering the roles
    if extra > 0:
        parts.append(f"{extra} more from {' or '.join(roles)}")
    return "; ".join(parts) or "a different combination of approvers"
