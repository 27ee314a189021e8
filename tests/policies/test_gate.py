"""The gate on hand-written policies: fail-closed errors, limits, selectors, caching."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from signoff.policies import (
    DEFAULT_APPROVAL_TTL,
    AggregateFacts,
    Gate,
    PrincipalFacts,
    RunFacts,
    parse_policy,
)
from tests.policies.helpers import policy, proposal_input, who

ERRORING = """\
[[rule]]
id = "guard"
commands = ["case.close"]
effect = "{effect}"
when = 'payload.reason_code == "fraud"'
{approvers}

[[rule]]
id = "base"
commands = ["case.close"]
effect = "allow"
"""


def erroring(effect: str) -> Gate:
    approvers = 'approvers = { roles = ["supervisor"] }' if effect == "ask" else ""
    return Gate(policy(ERRORING.format(effect=effect, approvers=approvers)))


def test_an_erroring_deny_condition_matches_and_says_so() -> None:
    decision = erroring("deny").evaluate(proposal_input("case.close", {"case_id": "c"}))
    assert (decision.effect, decision.rule_id) == ("deny", "guard")
    assert "could not be evaluated" in decision.reason
    assert "fail closed" in decision.reason
    guard = next(t for t in decision.trace if t.rule_id == "guard")
    assert guard.matched
    assert guard.error is not None
    assert "reason_code" in guard.error


def test_an_erroring_ask_condition_still_asks_a_human() -> None:
    decision = erroring("ask").evaluate(proposal_input("case.close", {"case_id": "c"}))
    assert (decision.effect, decision.rule_id) == ("ask", "guard")
    assert decision.approvers is not None
    assert decision.approvers.roles == ("supervisor",)
    assert "fail closed" in decision.reason


def test_an_erroring_allow_condition_never_allows() -> None:
    gate = Gate(policy("""
        [[rule]]
        id = "fraud-ok"
        commands = ["case.close"]
        effect = "allow"
        when = 'payload.reason_code == "fraud"'
        """))
    decision = gate.evaluate(proposal_input("case.close", {"case_id": "c"}))
    assert (decision.effect, decision.rule_id) == ("deny", "default.deny")
    assert "rule 'fraud-ok' could not be evaluated" in decision.reason
    assert decision.trace[0].matched is False
    assert decision.trace[0].error
    ok = gate.evaluate(proposal_input("case.close", {"reason_code": "fraud"}))
    assert (ok.effect, ok.rule_id, ok.trace[0].error) == ("allow", "fraud-ok", None)


def test_conditions_see_every_variable_and_an_absent_aggregate_is_empty() -> None:
    gate = Gate(policy("""
        [[rule]]
        id = "open-only"
        commands = ["case.*"]
        effect = "allow"
        when = '''has(aggregate.status) && aggregate.status == "open"
                  && aggregate.fields.team == "north" && principal.tenant == "acme"
                  && "analyst" in principal.roles && run.proposals_so_far < 3
                  && proposal.command_type == "case.note" && proposal.evidence_refs[0] == "e1"'''
        """))
    case = AggregateFacts(type="case", id="c1", version=2, status="open",
                          fields={"team": "north"})
    allowed = proposal_input("case.note", principal=who("user", "analyst"), evidence=("e1",),
                             aggregate=case, run=RunFacts(proposals_so_far=2))
    assert gate.evaluate(allowed).effect == "allow"
    no_target = allowed.model_copy(update={"aggregate": None})
    decision = gate.evaluate(no_target)
    assert (decision.effect, decision.trace[0].error) == ("deny", None)  # has() is false


def test_odd_payload_values_are_converted_not_fatal() -> None:
    gate = Gate(policy("""
        [[rule]]
        id = "tags"
        commands = ["case.tag"]
        effect = "allow"
        when = 'size(payload.tags) == 2 && payload.when.startsWith("2025-")'
        """))
    inp = proposal_input("case.tag", {"tags": ("a", "b"), "when": date(2025, 1, 2)})
    assert gate.evaluate(inp).effect == "allow"


def test_ask_decisions_carry_the_expiry_default_24h_or_the_rules() -> None:
    gate = Gate(policy("""
        [[rule]]
        id = "slow"
        commands = ["a.b"]
        effect = "ask"
        approvers = { roles = ["legal"] }

        [[rule]]
        id = "fast"
        commands = ["a.c"]
        effect = "ask"
        approvers = { roles = ["legal"], expires_in = "1h30m" }
        """))
    slow = gate.evaluate(proposal_input("a.b"))
    fast = gate.evaluate(proposal_input("a.c"))
    assert slow.approvers is not None
    assert slow.expires_in == DEFAULT_APPROVAL_TTL
    assert slow.expires_in == timedelta(hours=24)
    assert fast.expires_in == timedelta(hours=1, minutes=30)
    assert gate.evaluate(proposal_input("a.d")).expires_in is None


LIMITED = """
    [limits]
    proposals_per_run = 3
    per_agent_per_hour = 10

    [[rule]]
    id = "anything"
    commands = ["*"]
    effect = "allow"
    """


@pytest.mark.parametrize(("so_far", "last_hour", "effect", "rule"), [
    (2, 9, "allow", "anything"),
    (3, 0, "deny", "limits.proposals_per_run"),
    (0, 10, "deny", "limits.per_agent_per_hour"),
    (7, 70, "deny", "limits.proposals_per_run"),
])
def test_limits_deny_once_reached(so_far: int, last_hour: int, effect: str, rule: str) -> None:
    gate = Gate(policy(LIMITED))
    run = RunFacts(id="r", proposals_so_far=so_far, principal_proposals_last_hour=last_hour)
    decision = gate.evaluate(proposal_input("x.y", run=run))
    assert (decision.effect, decision.rule_id) == (effect, rule)
    assert decision.policy_version == gate.policy.version
    if effect == "deny":
        assert "limit of" in decision.reason
        # explain still shows what the rules would have said.
        explained = gate.explain(proposal_input("x.y", run=run))
        assert [t.rule_id for t in explained.trace] == [rule, "anything"]


@pytest.mark.parametrize("kind", ["user", "service"])
@pytest.mark.parametrize(("so_far", "last_hour", "rule"), [
    (0, 10**6, "limits.per_agent_per_hour"),
    (10**6, 0, "limits.proposals_per_run"),
])
def test_the_limits_apply_to_agents_only(kind: str, so_far: int, last_hour: int,
                                         rule: str) -> None:
    gate = Gate(policy(LIMITED))
    run = RunFacts(id=None, proposals_so_far=so_far, principal_proposals_last_hour=last_hour)
    person = PrincipalFacts(id=f"{kind}:x", kind=kind, tenant="acme")
    assert gate.evaluate(proposal_input("x.y", principal=person, run=run)).effect == "allow"
    agent = PrincipalFacts(id="agent:x", kind="agent", tenant="acme")
    assert gate.evaluate(proposal_input("x.y", principal=agent, run=run)).rule_id == rule


def test_limits_are_optional() -> None:
    gate = Gate(policy('[[rule]]\nid = "a"\ncommands = ["x.y"]\neffect = "allow"\n'))
    assert gate.policy.limits.proposals_per_run is None
    run = RunFacts(proposals_so_far=10**6, principal_proposals_last_hour=10**6)
    assert gate.evaluate(proposal_input("x.y", run=run)).effect == "allow"


SELECTED = """
    [[rule]]
    id = "analysts-brief"
    commands = ["brief.create"]
    effect = "allow"
    principals = { kinds = ["user"], roles = ["analyst", "supervisor"] }

    [[rule]]
    id = "agents-escalate"
    commands = ["case.escalate"]
    effect = "ask"
    principals = { kinds = ["agent"] }
    approvers = { roles = ["supervisor"] }

    [[rule]]
    id = "no-services"
    commands = ["case.*", "brief.*"]
    effect = "deny"
    principals = { kinds = ["service"] }

    [[rule]]
    id = "risky-close"
    commands = ["case.close"]
    effect = "deny"
    when = "proposal.confidence < 0.5"

    [[rule]]
    id = "close"
    commands = ["case.close"]
    effect = "ask"
    approvers = { roles = ["supervisor"] }
    """


@pytest.mark.parametrize(("principal", "command", "expected"), [
    (who("user", "analyst"), "brief.create", True),
    (who("user", "legal"), "brief.create", False),       # role not selected
    (who("agent"), "brief.create", False),              # kind not selected
    (who("agent"), "case.escalate", True),
    (who("user", "supervisor"), "case.escalate", False),
    (who("service"), "case.escalate", False),           # unconditional deny selects it
    (who("service"), "case.close", False),
    (who("agent"), "case.close", True),                 # the deny is conditional
    (who("agent"), "case.reopen", False),               # no rule at all
])
def test_may_propose(principal: PrincipalFacts, command: str, expected: bool) -> None:
    assert Gate(policy(SELECTED)).may_propose(principal, command) is expected


def test_selectors_filter_rules_and_decisions_do_not_leak_between_principals() -> None:
    gate = Gate(policy(SELECTED))
    analyst = gate.evaluate(proposal_input("brief.create", principal=who("user", "analyst")))
    agent = gate.evaluate(proposal_input("brief.create", principal=who("agent")))
    again = gate.evaluate(proposal_input("brief.create", principal=who("user", "analyst")))
    assert (analyst.effect, agent.effect) == ("allow", "deny")
    assert again == analyst
    assert "not for this principal" in agent.trace[0].note
    low = gate.evaluate(proposal_input("case.close", confidence=0.2))
    high = gate.evaluate(proposal_input("case.close", confidence=0.8))
    assert (low.effect, high.effect) == ("deny", "ask")


def test_may_query_defaults_to_everyone_and_follows_the_queries_table() -> None:
    open_policy = policy('[[rule]]\nid = "a"\ncommands = ["x.y"]\neffect = "allow"\n')
    for kind in ("agent", "user", "service"):
        assert open_policy.may_query(who(kind), "get_case_summary")
    closed = policy("""
        [queries]
        default = { kinds = ["user", "agent"] }
        [queries.tools.search_evidence]
        kinds = ["user"]
        roles = ["analyst"]
        [queries.tools.list_cases]
        kinds = []
        """)
    assert closed.may_query(who("agent"), "get_case_summary")
    assert not closed.may_query(who("service"), "get_case_summary")
    assert closed.may_query(who("user", "analyst"), "search_evidence")
    assert not closed.may_query(who("user", "legal"), "search_evidence")
    assert not closed.may_query(who("agent"), "search_evidence")
    assert not closed.may_query(who("user", "analyst"), "list_cases")


def test_version_ignores_layout_and_follows_content() -> None:
    a = parse_policy('[[rule]]\nid = "a"\ncommands = ["x.y"]\neffect = "allow"\n')
    b = parse_policy('# a comment\n[[rule]]\neffect   = "allow"\ncommands = [ "x.y" ]\n'
                     'id = "a"\n\n')
    c = parse_policy('[[rule]]\nid = "a"\ncommands = ["x.y"]\neffect = "deny"\n')
    assert a.version == b.version
    assert a.version != c.version
    assert len(a.version) == 16
    assert int(a.version, 16) >= 0


def test_prefix_and_exact_rules_are_both_candidates_in_evaluation_order() -> None:
    p = policy("""
        [[rule]]
        id = "all-allow"
        commands = ["*"]
        effect = "allow"
        [[rule]]
        id = "case-ask"
        commands = ["case.*"]
        effect = "ask"
        approvers = { roles = ["supervisor"] }
        [[rule]]
        id = "close-deny"
        commands = ["case.close"]
        effect = "deny"
        [[rule]]
        id = "note-allow"
        commands = ["case.note", "notice.send"]
        effect = "allow"
        """)
    assert [r.id for r in p.candidates("case.close")] == ["close-deny", "case-ask", "all-allow"]
    assert [r.id for r in p.candidates("case.note")] == ["case-ask", "all-allow", "note-allow"]
    assert [r.id for r in p.candidates("notice.send")] == ["all-allow", "note-allow"]
    assert [r.id for r in p.candidates("casefile.x")] == ["all-allow"]  # "case.*" needs the dot
    assert p.command_patterns == ("*", "case.*", "case.close", "case.note", "notice.send")
    assert p.exact_commands == ("case.close", "case.note", "notice.send")
