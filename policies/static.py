"""What a policy says about a principal and a command before any input exists.

Used by `signoff policy matrix` (and anything that wants to show who may do
what). Conditions are not evaluated; a rule with a `when` is taken as possibly
matching or not, so the answer is either one effect for certain or
`conditional` with the effects it could come to. The set over-approximates:
two rules whose conditions are each other's negation still show both outcomes
and the default deny.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from signoff.policies.combine import RANK, winner
from signoff.policies.model import Effect, PrincipalFacts
from signoff.policies.policy import Policy

StaticEffect = Literal["allow", "ask", "deny", "conditional"]


@dataclass(frozen=True, slots=True)
class StaticOutcome:
    effect: StaticEffect
    # Every effect some input could produce, strongest first.
    possible: tuple[Effect, ...]
    may_propose: bool
    # The rules that select this principal for this command, in evaluation order.
    rules: tuple[str, ...]


def static_outcome(policy: Policy, principal: PrincipalFacts, command_type: str) -> StaticOutcome:
    selected = [r for r in policy.candidates(command_type)
                if r.selector is None or r.selector.selects(principal)]
    certain = [r.effect for r in selected if r.unconditional]
    maybe = {r.effect for r in selected if not r.unconditional}
    possible = {winner(certain)} | {winner([*certain, effect]) for effect in maybe}
    ordered = tuple(sorted(possible, key=lambda e: -RANK[e]))
    blocked = "deny" in certain
    may_propose = not blocked and any(r.effect != "deny" for r in selected)
    effect: StaticEffect = ordered[0] if len(ordered) == 1 else "conditional"
    return StaticOutcome(effect, ordered, may_propose, tuple(r.id for r in selected))
