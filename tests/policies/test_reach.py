"""Rules that can never decide: constant conditions and shadowing (`lint_policy`)."""

from __future__ import annotations

import pytest

from signoff.policies import Finding, lint_policy, load_policy, load_principals
from tests.policies.helpers import DEMO_COMMANDS, DEMO_POLICY, DEMO_PRINCIPALS, policy


def rule(rid: str, effect: str, commands: str = '"a.x"', *, when: str | None = None,
         principals: str | None = None) -> str:
    lines = ["[[rule]]", f'id = "{rid}"', f"commands = [{commands}]", f'effect = "{effect}"']
    if when is not None:
        lines.append(f"when = '{when}'")
    if principals is not None:
        lines.append(f"principals = {principals}")
    if effect == "ask":
        lines.append('approvers = { roles = ["r"] }')
    return "\n".join(lines) + "\n\n"


def warnings(*rules: str, known: tuple[str, ...] | None = None) -> dict[str, Finding]:
    found = lint_policy(policy("".join(rules), known))
    assert len({f.rule_id for f in found}) == len(found), found
    return {f.rule_id: f for f in found}


def test_the_demo_policy_lints_clean_with_the_demo_principals() -> None:
    demo = load_policy(DEMO_POLICY, DEMO_COMMANDS)
    assert lint_policy(demo) == ()
    assert lint_policy(demo, load_principals(DEMO_PRINCIPALS)) == ()


def test_a_condition_false_for_every_input_never_matches() -> None:
    found = warnings(rule("never", "deny", when="1 > 2"),
                     rule("empty", "allow", when="[1, 2].exists(x, x > 5)"),
                     rule("reads", "allow", when="payload.n > 2 && 1 > 2"))
    assert set(found) == {"never", "empty"}  # one that reads the input is not evaluated
    assert found["never"].check == "never_matches"
    assert str(found["never"]) == (
        "test.toml:1: rule 'never': warning: its condition `1 > 2` is false for every input: "
        "it never matches")
    assert found["empty"].line == 7


def test_a_condition_that_always_fails_never_allows_and_always_denies() -> None:
    found = warnings(rule("allow", "allow", when="1 / 0 == 1"),
                     rule("deny", "deny", '"a.y"', when="1 / 0 == 1"))
    assert found["allow"].check == "never_matches"
    assert "divide by zero" in found["allow"].message
    assert found["deny"].check == "condition_errors"
    assert "matches everything it selects (fail closed)" in found["deny"].message


@pytest.mark.parametrize(("stronger", "weaker"), [
    (rule("deny", "deny"), rule("dead", "allow")),
    (rule("deny", "deny"), rule("dead", "ask", when="payload.n > 1")),
    (rule("ask", "ask"), rule("dead", "allow")),
    (rule("deny", "deny", '"*"'), rule("dead", "allow", '"a.x", "b.y"')),
    (rule("deny", "deny", '"a.*"'), rule("dead", "allow", '"a.b.*"')),
    (rule("deny", "deny", when="1 == 1"), rule("dead", "allow")),
    (rule("deny", "deny", when="1 / 0 == 1"), rule("dead", "allow")),  # fails closed
    (rule("deny", "deny", principals='{ roles = ["r", "s"] }'),
     rule("dead", "allow", principals='{ roles = ["r"], kinds = ["user"] }')),
    (rule("deny", "deny", principals='{ kinds = ["agent", "user"] }'),
     rule("dead", "ask", principals='{ kinds = ["user"] }')),
])
def test_a_stronger_rule_that_always_matches_shadows(stronger: str, weaker: str) -> None:
    # Wherever the stronger rule sits in the file: effects outrank by kind, not order.
    for text in (stronger + weaker, weaker + stronger):
        found = warnings(text)
        assert [r for r, f in found.items() if f.check == "shadowed"] == ["dead"], found
        assert (found["dead"].check, found["dead"].by) == ("shadowed", (found["dead"].by[0],))
        assert found["dead"].by[0] in ("deny", "ask")
        assert f"({found['dead'].by[0]} beats " in found["dead"].message


def test_the_earlier_of_two_allows_or_denies_decides() -> None:
    found = warnings(rule("first", "allow"), rule("second", "allow"),
                     rule("deny1", "deny", '"a.y"'), rule("deny2", "deny", '"a.y"', when="1 == 1"))
    assert set(found) == {"second", "deny2"}
    assert found["second"].by == ("first",)
    assert "of two allow rules the earlier decides" in found["second"].message
    later = warnings(rule("first", "allow", when="payload.n > 1"), rule("second", "allow"))
    assert later == {}  # the earlier rule names the decision when it matches


@pytest.mark.parametrize("rules", [
    (rule("deny", "deny", when="payload.n > 1"), rule("live", "allow")),
    (rule("allow", "allow"), rule("live", "ask")),
    (rule("ask", "ask"), rule("live", "ask")),  # asks merge their demands
    (rule("deny", "deny", principals='{ kinds = ["agent"] }'), rule("live", "allow")),
    (rule("deny", "deny", principals='{ roles = ["r"] }'),
     rule("live", "allow", principals='{ roles = ["r", "s"] }')),
    (rule("deny", "deny"), rule("live", "allow", '"a.x", "a.y"')),
    (rule("deny", "deny", '"a.x"'), rule("live", "allow", '"a.*"')),
    (rule("deny", "deny", when="1 > 2"), rule("live", "allow")),
])
def test_a_rule_that_can_still_decide_is_not_shadowed(rules: tuple[str, str]) -> None:
    assert "live" not in warnings(*rules)


def test_a_deny_per_kind_together_shadows_a_rule_for_everyone() -> None:
    text = (rule("agents", "deny", principals='{ kinds = ["agent"] }')
            + rule("people", "deny", principals='{ kinds = ["user", "service"] }')
            + rule("dead", "allow"))
    assert warnings(text)["dead"].by == ("agents", "people")


def test_wildcards_are_resolved_against_the_domain_when_known() -> None:
    text = rule("close", "deny", '"a.x"') + rule("open", "deny", '"a.y"') \
        + rule("dead", "allow", '"a.*"')
    assert "dead" not in warnings(text)  # without a domain, a.* may name more types
    found = warnings(text, known=("a.x", "a.y", "b.z"))
    assert found["dead"].by == ("close", "open")
    assert "dead" not in warnings(text, known=("a.x", "a.y", "a.z"))
