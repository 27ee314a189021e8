"""Rules the principals on file make useless: nobody they select, or an ask nobody can approve.

Checked against a principals file, so these hold for that file only: adding a
principal can cure them. The approval rules mirrored here are the server's (its
approval service and quorum check, which this package cannot import): only people
(kind `user`) vote, only in the proposal's tenant, only while holding one of the
approvers' roles, never on their own proposal; `count` different people must
approve, and with `distinct` every role must be covered by a different person.
A rule that lets the requester confirm (`confirm = "requester"`) lifts only the
own-proposal exclusion: a requester holding one of the roles counts as one vote.

An ask is reported for a tenant when the rule selects someone there who could
propose, yet for none of them could the tenant's people form that quorum.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from signoff.policies.findings import Finding
from signoff.policies.model import Approvers, PrincipalFacts
from signoff.policies.policy import Policy
from signoff.policies.principals import PrincipalRecord
from signoff.policies.rules import Rule


def principal_findings(policy: Policy, principals: Sequence[PrincipalRecord], *,
                       tenants: Collection[str] | None = None,
                       skip: Collection[str] = ()) -> list[Finding]:
    """Findings for every rule not in `skip`, within `tenants` (default: every
    tenant some principal belongs to)."""
    scope = sorted({t for r in principals for t in r.tenants
                    if tenants is None or t in tenants})
    members = {t: [r.facts(t) for r in principals if t in r.tenants] for t in scope}
    found: list[Finding] = []
    for rule in policy.rules:
        if rule.id in skip:
            continue
        admitted = {t: [p for p in people if _selects(rule, p)] for t, people in members.items()}
        if rule.selector is not None and not any(admitted.values()):
            found.append(Finding("never_matches", policy.source, rule.line, rule.id,
                                 f"no principal{_within(tenants)} is selected by its "
                                 f"principals clause: it never matches"))
            continue
        if rule.approvers is None:
            continue
        for tenant in scope:
            problem = _unapprovable(rule.approvers, admitted[tenant], members[tenant])
            if problem is not None:
                found.append(Finding("unapprovable", policy.source, rule.line, rule.id,
                                     f"no quorum can approve it in tenant {tenant!r}: {problem}",
                                     tenant=tenant))
    return found


def quorum_possible(approvers: Approvers, voters: Sequence[PrincipalFacts]) -> bool:
    """Whether `voters` (people who may vote) could together satisfy `approvers`."""
    eligible = [v for v in voters if v.kind == "user" and set(v.roles) & set(approvers.roles)]
    if len({v.id for v in eligible}) < approvers.count:
        return False
    return not approvers.distinct or _cover(approvers.roles, eligible)


def _unapprovable(approvers: Approvers, proposers: Sequence[PrincipalFacts],
                  people: Sequence[PrincipalFacts]) -> str | None:
    """Why no proposer among `proposers` could get approval from `people`, or
    None when one could (or there is no proposer)."""
    if not proposers:
        return None
    own = approvers.confirm == "requester"
    if any(quorum_possible(approvers, [v for v in people if own or v.id != p.id])
           for p in proposers):
        return None
    demand = _demand(approvers)
    holders = [v for v in people if v.kind == "user" and set(v.roles) & set(approvers.roles)]
    listed = ", ".join(f"{v.id} ({', '.join(r for r in v.roles if r in approvers.roles)})"
                       for v in holders)
    if quorum_possible(approvers, people):
        return (f"it needs {demand}; the people who could ({listed}) are the only ones "
                "it lets propose, and no one approves their own proposal")
    return f"it needs {demand}; people there who may vote holding them: {listed or 'none'}"


def _demand(approvers: Approvers) -> str:
    roles = " or ".join(approvers.roles)
    if approvers.distinct:
        return (f"{approvers.count} different people covering each of "
                f"{', '.join(approvers.roles)}")
    return f"{approvers.count} {'person' if approvers.count == 1 else 'people'} holding {roles}"


def _cover(roles: Sequence[str], voters: Sequence[PrincipalFacts]) -> bool:
    """Whether each role can be held by a different voter (bipartite matching)."""
    holder: dict[str, str] = {}  # voter id -> the role it covers

    def assign(role: str, seen: set[str]) -> bool:
        for voter in voters:
            if role in voter.roles and voter.id not in seen:
                seen.add(voter.id)
                taken = holder.get(voter.id)
                if taken is None or assign(taken, seen):
                    holder[voter.id] = role
                    return True
        return False

    return all(assign(role, set()) for role in roles)


def _selects(rule: Rule, principal: PrincipalFacts) -> bool:
    return rule.selector is None or rule.selector.selects(principal)


def _within(tenants: Collection[str] | None) -> str:
    if tenants is None:
        return " on file"
    return " of tenant " + ", ".join(repr(t) for t in sorted(tenants))
