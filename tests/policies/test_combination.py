"""How matching rules combine: properties over generated policies and inputs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signoff.policies import Approvers, Decision, Effect, Gate, strictest, winner
from tests.policies.helpers import policy, proposal_input

ROLES = ("supervisor", "legal", "analyst", "auditor")
# Conditions with a known outcome on the input used below (payload yes=1, no=0):
CONDITIONS = {
    "true": "payload.yes == 1",
    "false": "payload.no == 1",
    "error": "payload.missing == 1",  # no such key: an evaluation error
}
RANK = {"allow": 0, "ask": 1, "deny": 2}


@dataclass(frozen=True)
class Spec:
    effect: Effect
    condition: str | None  # a key of CONDITIONS, or None for no `when`
    approvers: Approvers | None

    def matches(self) -> bool:
        """What the gate must do: errors fail closed for deny and ask, never open for allow."""
        if self.condition is None or self.condition == "true":
            return True
        if self.condition == "error":
            return self.effect != "allow"
        return False


@st.composite
def approvers(draw: st.DrawFn) -> Approvers:
    roles = tuple(draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=3, unique=True)))
    distinct = draw(st.booleans())
    count = draw(st.integers(min_value=len(roles) if distinct else 1, max_value=4))
    hours = draw(st.sampled_from([1, 12, 24, 72]))
    return Approvers(roles=roles, count=count, distinct=distinct,
                     expires_in=timedelta(hours=hours),
                     confirm=draw(st.sampled_from([None, "requester"])))


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    effect: Effect = draw(st.sampled_from(["allow", "ask", "deny"]))
    condition = draw(st.sampled_from([None, "true", "false", "error"]))
    return Spec(effect, condition, draw(approvers()) if effect == "ask" else None)


def toml_of(rules: list[Spec]) -> str:
    blocks = []
    for i, spec in enumerate(rules):
        lines = ["[[rule]]", f'id = "r{i}"', 'commands = ["x.do"]', f'effect = "{spec.effect}"']
        if spec.condition is not None:
            lines.append(f"when = '{CONDITIONS[spec.condition]}'")
        if spec.approvers is not None:
            a = spec.approvers
            confirm = ', confirm = "requester"' if a.confirm else ""
            lines.append(
                f"approvers = {{ roles = {list(a.roles)!r}, count = {a.count}, "
                f"distinct = {str(a.distinct).lower()}, "
                f'expires_in = "{int(a.expires_in.total_seconds() // 3600)}h"{confirm} }}'
            )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def decide(rules: list[Spec]) -> Decision:
    gate = Gate(policy(toml_of(rules)))
    return gate.evaluate(proposal_input("x.do", {"yes": 1, "no": 0}))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(specs(), max_size=7))
def test_deny_beats_ask_beats_allow_and_nothing_is_deny(rules: list[Spec]) -> None:
    decision = decide(rules)
    matched = [(i, s) for i, s in enumerate(rules) if s.matches()]
    assert decision.effect == winner(s.effect for _, s in matched)
    if not matched:
        assert decision.rule_id == "default.deny"
    else:
        # The deciding rule is the first (in file order) of the winning effect.
        first = next(i for i, s in matched if s.effect == decision.effect)
        assert decision.rule_id == f"r{first}"
    # Every rule is traced exactly once, with its match and its error.
    assert sorted(t.rule_id for t in decision.trace) == sorted(f"r{i}" for i in range(len(rules)))
    for trace in decision.trace:
        spec = rules[int(trace.rule_id[1:])]
        assert trace.matched == spec.matches()
        assert (trace.error is not None) == (spec.condition == "error")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(specs(), min_size=1, max_size=7))
def test_an_ask_demands_at_least_what_every_matching_ask_demands(rules: list[Spec]) -> None:
    decision = decide(rules)
    if decision.effect != "ask":
        assert decision.approvers is None
        return
    asks = [s.approvers for s in rules if s.effect == "ask" and s.matches() and s.approvers]
    got = decision.approvers
    assert got is not None
    assert asks
    assert got.count == max(max(a.count for a in asks), len(got.roles) if got.distinct else 0)
    assert set(got.roles) == {r for a in asks for r in a.roles}
    assert got.distinct == (any(a.distinct for a in asks)
                            or len({frozenset(a.roles) for a in asks}) > 1)
    assert got.expires_in == min(a.expires_in for a in asks)


@given(st.lists(approvers(), min_size=1, max_size=6))
def test_strictest_is_at_least_as_strict_as_each_demand(demands: list[Approvers]) -> None:
    merged = strictest(demands)
    for d in demands:
        assert merged.count >= d.count
        assert set(d.roles) <= set(merged.roles)
        assert merged.expires_in <= d.expires_in
        assert merged.distinct or not d.distinct
    assert merged.count == max(max(d.count for d in demands),
                               len(merged.roles) if merged.distinct else 0)
    assert merged.expires_in == min(d.expires_in for d in demands)
    assert (merged.confirm == "requester") == all(d.confirm == "requester" for d in demands)


def test_strictest_of_same_roles_keeps_the_max_count_and_stays_non_distinct() -> None:
    one = Approvers(roles=("supervisor",), count=1)
    two = Approvers(roles=("supervisor",), count=2, expires_in=timedelta(minutes=30))
    merged = strictest([one, two])
    assert (merged.roles, merged.count, merged.distinct) == (("supervisor",), 2, False)
    assert merged.expires_in == timedelta(minutes=30)


def test_asks_for_different_roles_need_one_person_per_role() -> None:
    # A supervisor OR legal would be looser than either ask; both are required.
    merged = strictest([Approvers(roles=("supervisor",)), Approvers(roles=("legal",))])
    assert (merged.roles, merged.count, merged.distinct) == (("supervisor", "legal"), 2, True)


def test_winner_of_nothing_is_deny() -> None:
    assert winner([]) == "deny"
    assert winner(["allow", "ask", "allow"]) == "ask"
    assert winner(["allow", "deny", "ask"]) == "deny"
    assert sorted(RANK, key=RANK.__getitem__) == ["allow", "ask", "deny"]
