"""`lint_policy`: every warning about a loaded policy, in file order.

Pure: it reads the policy (and the principals, when given) and evaluates nothing
but constant conditions. What each check means is in `reach.py` (rules that never
match or never decide) and `approvability.py` (against a principals file).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from signoff.policies.approvability import principal_findings
from signoff.policies.findings import CHECKS, Finding
from signoff.policies.policy import Policy
from signoff.policies.principals import PrincipalRecord
from signoff.policies.reach import reach_findings


def lint_policy(policy: Policy, principals: Iterable[PrincipalRecord] | None = None, *,
                tenants: Collection[str] | None = None) -> tuple[Finding, ...]:
    """Warnings about `policy`, rule by rule. With `principals`, also rules none
    of them is selected by and asks they cannot approve (within `tenants`, if
    given). A rule already found dead is not also charged with its approvers."""
    found = reach_findings(policy)
    if principals is not None:
        dead = {f.rule_id for f in found if f.check in ("never_matches", "shadowed")}
        found += principal_findings(policy, tuple(principals), tenants=tenants, skip=dead)
    position = {rule.id: rule.position for rule in policy.rules}
    return tuple(sorted(found, key=lambda f: (position[f.rule_id], CHECKS.index(f.check))))
