"""Everything the gate needs for one command type, worked out once and cached.

A plan holds the candidate rules in evaluation order (deny, ask, allow) and, per
*selection* (which of those rules admit the principal, a bitmask), a compiled
`Evaluation`: one combined runtime program for the conditions of exactly those
rules, a builder for exactly the variables and fields they read, and the
decisions already reached. A decision is fully determined by the selection and
by which conditions held, so after warm-up a decision costs one small map
build, one runtime call and two dictionary lookups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from signoff.policies.bindings import Builder, builder
from signoff.policies.cel_runtime import Bitmask, compile_bitmask, merge_reads
from signoff.policies.model import Decision, PrincipalFacts
from signoff.policies.rules import PrincipalSelector, Rule

# Bounds on what one command type keeps: selections compiled, decisions remembered.
EVALUATION_CACHE_LIMIT = 64
DECISION_CACHE_LIMIT = 256


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The conditional rules one selection admits, ready to run together."""

    # Positions in `Plan.rules` of the selected conditional rules, in bit order.
    conditional: tuple[int, ...]
    bitmask: Bitmask | None
    build: Builder
    decisions: dict[int, Decision] = field(default_factory=dict)

    def remember(self, bits: int, decision: Decision) -> None:
        if len(self.decisions) < DECISION_CACHE_LIMIT:
            self.decisions[bits] = decision


@dataclass(frozen=True, slots=True)
class Plan:
    command_type: str
    rules: tuple[Rule, ...]
    # Bit i of a selection stands for rules[i]; rules without a selector always select.
    always_selected: int
    selectors: tuple[tuple[int, PrincipalSelector], ...]
    evaluations: dict[int, Evaluation] = field(default_factory=dict)

    def selection(self, principal: PrincipalFacts) -> int:
        mask = self.always_selected
        for bit, selector in self.selectors:
            if selector.selects(principal):
                mask |= bit
        return mask

    def evaluation(self, selected: int) -> Evaluation:
        found = self.evaluations.get(selected)
        if found is None:
            found = _evaluation(self.rules, selected)
            if len(self.evaluations) < EVALUATION_CACHE_LIMIT:
                self.evaluations[selected] = found
        return found


def _evaluation(rules: tuple[Rule, ...], selected: int) -> Evaluation:
    positions = tuple(i for i, rule in enumerate(rules)
                      if selected >> i & 1 and rule.when is not None)
    conditions = tuple(c for c in (rules[i].when for i in positions) if c is not None)
    bitmask = compile_bitmask(conditions) if conditions else None
    reads = merge_reads([c.reads for c in conditions])
    return Evaluation(positions, bitmask, builder(reads))


def build_plan(command_type: str, rules: tuple[Rule, ...]) -> Plan:
    always = 0
    selectors: list[tuple[int, PrincipalSelector]] = []
    for i, rule in enumerate(rules):
        if rule.selector is None:
            always |= 1 << i
        else:
            selectors.append((1 << i, rule.selector))
    return Plan(command_type, rules, always, tuple(selectors))
