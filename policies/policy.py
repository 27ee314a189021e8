"""A loaded policy, indexed by command type for the gate.

Rules are looked up through an exact-match dict and a list of prefix patterns,
resolved once per command type and cached as a `Plan`, so a proposal only ever
evaluates the rules that could apply to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from signoff.policies.combine import RANK
from signoff.policies.model import PrincipalFacts
from signoff.policies.plan import Plan, build_plan
from signoff.policies.rules import Limits, QueryAccess, Rule, pattern_matches

# Command types resolved to plans are cached up to this many distinct types.
_CACHE_LIMIT = 4096


@dataclass(frozen=True)
class Policy:
    """A validated policy. `version` is the digest of its canonical content."""

    version: str
    source: str
    rules: tuple[Rule, ...]
    limits: Limits = field(default_factory=Limits)
    queries: QueryAccess = field(default_factory=QueryAccess)
    # The command types the domain declared when this policy was loaded, if any;
    # a reload checks the new file against the same list.
    known_commands: frozenset[str] | None = None
    _exact: dict[str, tuple[Rule, ...]] = field(init=False, repr=False, compare=False)
    _prefixed: tuple[Rule, ...] = field(init=False, repr=False, compare=False)
    _cache: dict[str, Plan] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        exact: dict[str, list[Rule]] = {}
        for rule in self.rules:
            for pattern in rule.commands:
                if not pattern.endswith("*"):
                    exact.setdefault(pattern, []).append(rule)
        prefixed = tuple(r for r in self.rules if any(p.endswith("*") for p in r.commands))
        object.__setattr__(self, "_exact", {k: tuple(v) for k, v in exact.items()})
        object.__setattr__(self, "_prefixed", prefixed)
        object.__setattr__(self, "_cache", {})

    @cached_property
    def reads_counts(self) -> bool:
        """Whether a decision can depend on how many proposals came before:
        a limit is set, or some rule's condition reads `run`. (Asked on every
        submission, inside the writer: worked out once per policy.)"""
        limited = (self.limits.proposals_per_run is not None
                   or self.limits.per_agent_per_hour is not None)
        return limited or any(r.when is not None and "run" in r.when.reads for r in self.rules)

    @property
    def command_patterns(self) -> tuple[str, ...]:
        """Every command pattern the rules name, in file order, without repeats."""
        return tuple(dict.fromkeys(p for r in self.rules for p in r.commands))

    @property
    def exact_commands(self) -> tuple[str, ...]:
        """The command types the rules name exactly (no wildcard)."""
        return tuple(p for p in self.command_patterns if not p.endswith("*"))

    def candidates(self, command_type: str) -> tuple[Rule, ...]:
        """The rules that name `command_type`, in evaluation order: deny rules,
        then ask, then allow, each in file order."""
        return self.plan(command_type).rules

    def plan(self, command_type: str) -> Plan:
        cached = self._cache.get(command_type)
        if cached is not None:
            return cached
        exact = self._exact.get(command_type, ())
        by_prefix = [
            r for r in self._prefixed
            if r not in exact and any(pattern_matches(p, command_type) for p in r.commands)
        ]
        found = tuple(sorted((*exact, *by_prefix), key=lambda r: (-RANK[r.effect], r.position)))
        plan = build_plan(command_type, found)
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[command_type] = plan
        return plan

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)

    def may_query(self, principal: PrincipalFacts, tool: str) -> bool:
        """Whether `principal` may call read-only `tool` (in its own tenant)."""
        return self.queries.allows(principal, tool)
