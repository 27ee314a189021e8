"""The reusable clauses of a policy file: approvers, principal selectors, limits, queries.

Each reads one TOML table, reports what is wrong through the shared `Reporter`,
and returns the validated value (or None when it could not).
"""

from __future__ import annotations

from typing import Any

from signoff.policies.model import Approvers, PrincipalKind
from signoff.policies.rules import Limits, PrincipalSelector, QueryAccess
from signoff.policies.toml_checks import Reporter, describe

APPROVER_KEYS = ("roles", "count", "distinct", "expires_in", "confirm")
SELECTOR_KEYS = ("kinds", "roles")
LIMIT_KEYS = ("proposals_per_run", "per_agent_per_hour")
QUERY_KEYS = ("default", "tools")
KINDS: tuple[PrincipalKind, ...] = ("agent", "user", "service")


def approvers_from(raw: object, path: tuple[str, ...], entry: str,
                   report: Reporter) -> Approvers | None:
    """The `approvers` table of an ask rule."""
    table = report.table(raw, path, entry, "approvers")
    if table is None:
        return None
    pre = "approvers."
    report.keys(table, APPROVER_KEYS, path, entry, pre)
    roles = None
    if "roles" not in table:
        report.add(path, entry, pre + "roles", "this key to be present", "nothing")
    else:
        roles = report.strings(table, "roles", path, entry, prefix=pre)
    count = report.integer(table, "count", path, entry, minimum=1, prefix=pre) \
        if "count" in table else 1
    distinct = report.boolean(table, "distinct", path, entry, prefix=pre) \
        if "distinct" in table else False
    expires = report.duration(table, "expires_in", path, entry, prefix=pre) \
        if "expires_in" in table else None
    confirm = table.get("confirm")
    if confirm is not None and confirm != "requester":
        report.add((*path, "confirm"), entry, pre + "confirm", '"requester"', describe(confirm))
    if roles is None or count is None or distinct is None:
        return None
    if distinct and count < len(roles):
        report.add((*path, "count"), entry, pre + "count",
                   f"at least {len(roles)} (one person per role when distinct = true)",
                   str(count))
        return None
    if "expires_in" in table and expires is None:
        return None
    extra: dict[str, Any] = {"expires_in": expires} if expires is not None else {}
    return Approvers(roles=roles, count=count, distinct=distinct,
                     confirm="requester" if confirm == "requester" else None, **extra)


def selector_from(raw: object, path: tuple[str, ...], entry: str | None, report: Reporter,
                  key: str, *, allow_empty: bool) -> PrincipalSelector | None:
    """A `{ kinds = [...], roles = [...] }` table, as in rules and `[queries]`."""
    table = report.table(raw, path, entry, key)
    if table is None:
        return None
    report.keys(table, SELECTOR_KEYS, path, entry, key + ".")
    kinds = roles = None
    if "kinds" in table:
        kinds = report.strings(table, "kinds", path, entry, allow_empty=allow_empty,
                               prefix=key + ".", choices=KINDS)
        if kinds is None:
            return None
    if "roles" in table:
        roles = report.strings(table, "roles", path, entry, allow_empty=allow_empty,
                               prefix=key + ".")
        if roles is None:
            return None
    return PrincipalSelector(
        kinds=frozenset(k for k in KINDS if k in kinds) if kinds is not None else None,
        roles=frozenset(roles) if roles is not None else None,
    )


def limits_from(raw: object, report: Reporter) -> Limits:
    table = report.table(raw, ("limits",), None, "limits")
    if table is None:
        return Limits()
    report.keys(table, LIMIT_KEYS, ("limits",), None, "limits.")
    values = {
        key: report.integer(table, key, ("limits",), None, minimum=1, prefix="limits.")
        for key in LIMIT_KEYS if key in table
    }
    return Limits(proposals_per_run=values.get("proposals_per_run"),
                  per_agent_per_hour=values.get("per_agent_per_hour"))


def queries_from(raw: object, report: Reporter) -> QueryAccess:
    table = report.table(raw, ("queries",), None, "queries")
    if table is None:
        return QueryAccess()
    report.keys(table, QUERY_KEYS, ("queries",), None, "queries.")
    access = QueryAccess()
    if "default" in table:
        default = selector_from(table["default"], ("queries", "default"), None, report,
                                "queries.default", allow_empty=True)
        access = QueryAccess(default=default or access.default)
    tools_raw = table.get("tools", {})
    tools = report.table(tools_raw, ("queries", "tools"), None, "queries.tools")
    selectors: dict[str, PrincipalSelector] = {}
    for tool, value in (tools or {}).items():
        selector = selector_from(value, ("queries", "tools", tool), None, report,
                                 f"queries.tools.{tool}", allow_empty=True)
        if selector is not None:
            selectors[tool] = selector
    return QueryAccess(default=access.default, tools=selectors)
