"""The parts of a loaded policy: rules, principal selectors, limits, query access.

These are the validated, immutable forms of what the TOML says; only the loader
builds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from signoff.policies.cel_runtime import Condition
from signoff.policies.model import Approvers, Effect, PrincipalFacts, PrincipalKind, RuleTrace


@dataclass(frozen=True, slots=True)
class PrincipalSelector:
    """A static filter on who a rule (or query tool) is for. `None` means any;
    `roles` matches a principal holding at least one of them."""

    kinds: frozenset[PrincipalKind] | None = None
    roles: frozenset[str] | None = None

    def selects(self, principal: PrincipalFacts) -> bool:
        if self.kinds is not None and principal.kind not in self.kinds:
            return False
        return self.roles is None or not self.roles.isdisjoint(principal.roles)


ANYONE = PrincipalSelector()


def pattern_matches(pattern: str, command_type: str) -> bool:
    """`a.b` matches itself; `a.*` matches every type under `a.`; `*` matches all."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return command_type.startswith(pattern[:-1])
    return pattern == command_type


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    commands: tuple[str, ...]
    effect: Effect
    reason: str
    when: Condition | None
    approvers: Approvers | None
    selector: PrincipalSelector | None
    # Position in the file: ties between rules of one effect go to the earliest.
    position: int
    # The traces this rule produces when its condition evaluates cleanly,
    # built once so a decision does not rebuild them.
    trace_matched: RuleTrace
    trace_unmatched: RuleTrace
    trace_unselected: RuleTrace
    # The line of its `[[rule]]` header, for messages that point at the rule.
    line: int | None = None

    @property
    def unconditional(self) -> bool:
        return self.when is None


@dataclass(frozen=True, slots=True)
class Limits:
    """Counts come from `PolicyInput.run`; they are of proposals already recorded,
    not counting the one being judged."""

    proposals_per_run: int | None = None
    per_agent_per_hour: int | None = None


@dataclass(frozen=True, slots=True)
class QueryAccess:
    """Who may call which read-only tool, always within their own tenant."""

    default: PrincipalSelector = ANYONE
    tools: Mapping[str, PrincipalSelector] = field(default_factory=dict)

    def allows(self, principal: PrincipalFacts, tool: str) -> bool:
        return self.tools.get(tool, self.default).selects(principal)
