"""Judging recorded decisions again under another policy: what would change.

Pure: the caller hands in each recorded decision with the input it judged
(rebuilt from the proposal and what the decision kept); the new policy's
gate judges the same input, and the difference is reported per decision and
counted per transition (`allow->ask`, `ask->deny`, ...). A decision whose
input was not recorded is counted as such, never guessed.

Strictness: deny > ask > allow. Between two asks, needing more approvals
(or distinct approvers where the other did not), fewer approver roles, or
no longer letting the requester confirm is stricter; the reverse is looser,
and any other change of roles counts as looser (someone new may approve).
A change to a less strict outcome *loosens* the policy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from signoff.policies.gate import Gate
from signoff.policies.model import Approvers, Decision, Effect, PolicyInput
from signoff.policies.policy import Policy

RANK: dict[Effect, int] = {"allow": 0, "ask": 1, "deny": 2}
Direction = Literal["stricter", "looser", "same"]


@dataclass(frozen=True)
class Recorded:
    """One decision as it was recorded."""

    proposal_id: str
    command_type: str
    effect: Effect
    rule_id: str
    approvers_required: int = 0
    distinct: bool = False
    approver_roles: tuple[str, ...] = ()
    confirm: str | None = None
    judged: PolicyInput | None = None


@dataclass(frozen=True)
class Change:
    proposal_id: str
    command_type: str
    before: str  # effect
    after: str
    before_rule: str
    after_rule: str
    direction: Direction
    reason: str

    @property
    def transition(self) -> str:
        return f"{self.before}->{self.after}"


@dataclass
class ReplayReport:
    judged: int = 0
    unchanged: int = 0
    missing_input: int = 0
    changes: list[Change] = field(default_factory=list)
    transitions: Counter[str] = field(default_factory=Counter)

    @property
    def loosened(self) -> list[Change]:
        return [c for c in self.changes if c.direction == "looser"]


def _ask_weight(count: int, distinct: bool) -> tuple[int, int]:
    return (count, 1 if distinct else 0)


def direction(before: Recorded, after: Decision) -> Direction:
    if RANK[after.effect] != RANK[before.effect]:
        return "stricter" if RANK[after.effect] > RANK[before.effect] else "looser"
    if after.effect != "ask":
        return "same"
    approvers: Approvers | None = after.approvers
    new = _ask_weight(approvers.count, approvers.distinct) if approvers else (0, 0)
    old = _ask_weight(before.approvers_required, before.distinct)
    if new != old:
        return "stricter" if new > old else "looser"
    roles, was = set(approvers.roles if approvers else ()), set(before.approver_roles)
    if roles != was:
        return "stricter" if roles < was else "looser"
    confirms = approvers is not None and approvers.confirm == "requester"
    if confirms != (before.confirm == "requester"):
        return "looser" if confirms else "stricter"
    return "same"


def replay(policy: Policy, recorded: Iterable[Recorded]) -> ReplayReport:
    gate = Gate(policy)
    report = ReplayReport()
    for decision in recorded:
        if decision.judged is None:
            report.missing_input += 1
            continue
        report.judged += 1
        now = gate.evaluate(decision.judged)
        way = direction(decision, now)
        if way == "same" and now.rule_id == decision.rule_id:
            report.unchanged += 1
            continue
        change = Change(
            proposal_id=decision.proposal_id, command_type=decision.command_type,
            before=decision.effect, after=now.effect, before_rule=decision.rule_id,
            after_rule=now.rule_id, direction=way, reason=now.reason)
        report.changes.append(change)
        report.transitions[change.transition] += 1
    return report
