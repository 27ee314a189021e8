"""The casework demo policy implements SPEC.md's table, row by row."""

from __future__ import annotations

import pytest

from signoff.policies import (
    Decision,
    Gate,
    load_policy,
    load_principals,
    load_scenarios,
    run_scenarios,
)
from tests.policies.helpers import (
    AGENT_COMMANDS,
    DEMO_COMMANDS,
    DEMO_POLICY,
    DEMO_PRINCIPALS,
    DEMO_SCENARIOS,
    SERVICE_COMMANDS,
    proposal_input,
    who,
)


@pytest.fixture(scope="module")
def gate() -> Gate:
    return Gate(load_policy(DEMO_POLICY, known_commands=DEMO_COMMANDS))


def risk(gate: Gate, level: str, confidence: float) -> Decision:
    return gate.evaluate(proposal_input("case.update_risk", {"risk_level": level},
                                        confidence=confidence, evidence=("ev-1",)))


def escalate(gate: Gate, confidence: float, evidence: tuple[str, ...]) -> Decision:
    return gate.evaluate(proposal_input("case.escalate", {"case_id": "c"},
                                        confidence=confidence, evidence=evidence))


def test_briefs_drafts_and_sends_are_allowed(gate: Gate) -> None:
    for command in ("brief.create", "notice.create_draft", "notice.send"):
        decision = gate.evaluate(proposal_input(command))
        assert decision.effect == "allow", command
        assert decision.policy_version == gate.policy.version


@pytest.mark.parametrize(("level", "confidence", "effect"), [
    ("high", 0.9, "allow"), ("high", 0.89, "ask"), ("low", 1.0, "allow"),
    ("critical", 1.0, "ask"), ("critical", 0.2, "ask"), ("medium", 0.0, "ask"),
])
def test_risk_updates(gate: Gate, level: str, confidence: float, effect: str) -> None:
    decision = risk(gate, level, confidence)
    assert decision.effect == effect
    if effect == "ask":
        assert decision.approvers is not None
        assert (decision.approvers.roles, decision.approvers.count) == (("supervisor",), 1)


@pytest.mark.parametrize(("confidence", "evidence", "effect"), [
    (0.5, ("ev-1",), "ask"), (0.49, ("ev-1",), "deny"), (0.99, (), "deny"), (0.0, (), "deny"),
])
def test_escalations(gate: Gate, confidence: float, evidence: tuple[str, ...],
                     effect: str) -> None:
    decision = escalate(gate, confidence, evidence)
    assert decision.effect == effect
    if effect == "deny":
        assert decision.rule_id == "escalate.deny-unsupported"
    else:
        assert decision.approvers is not None
        assert decision.approvers.roles == ("supervisor",)


def test_notice_approval_asks_legal_and_closure_two_distinct(gate: Gate) -> None:
    approval = gate.evaluate(proposal_input("notice.approve"))
    assert approval.approvers is not None
    assert (approval.approvers.roles, approval.approvers.count) == (("legal",), 1)
    closure = gate.evaluate(proposal_input("case.close"))
    assert closure.approvers is not None
    assert set(closure.approvers.roles) == {"supervisor", "legal"}
    assert (closure.approvers.count, closure.approvers.distinct) == (2, True)
    assert all(r.approvers is None or r.approvers.confirm is None for r in gate.policy.rules)


def test_anything_else_is_denied_by_default(gate: Gate) -> None:
    decision = gate.evaluate(proposal_input("case.reopen"))
    assert (decision.effect, decision.rule_id) == ("deny", "default.deny")


def test_limits_and_queries(gate: Gate) -> None:
    limits = gate.policy.limits
    assert (limits.proposals_per_run, limits.per_agent_per_hour) == (50, 500)
    for record in load_principals(DEMO_PRINCIPALS):
        for tenant in record.tenants:
            assert gate.policy.may_query(record.facts(tenant), "get_case_summary")


def test_agents_may_propose_every_listed_command_and_nothing_else(gate: Gate) -> None:
    for command in AGENT_COMMANDS:
        assert gate.may_propose(who("agent"), command), command
    assert not gate.may_propose(who("agent"), "case.reopen")
    for command in SERVICE_COMMANDS:
        assert not gate.may_propose(who("agent"), command), command
        assert gate.may_propose(who("service", pid="service:notifier"), command), command


def test_the_demo_scenarios_cover_the_table_and_all_pass(gate: Gate) -> None:
    scenarios = load_scenarios(DEMO_SCENARIOS)
    results = run_scenarios(gate, scenarios)
    assert [r.failures for r in results if not r.passed] == []
    covered = {(s.input.command_type, s.expect) for s in scenarios}
    assert covered >= {
        ("brief.create", "allow"), ("notice.create_draft", "allow"),
        ("case.update_risk", "allow"), ("case.update_risk", "ask"),
        ("case.escalate", "deny"), ("case.escalate", "ask"), ("notice.approve", "ask"),
        ("notice.send", "allow"), ("case.close", "ask"), ("case.delete", "deny"),
    }
    rules = {s.expect_rule for s in scenarios}
    assert {"default.deny", "limits.proposals_per_run", "limits.per_agent_per_hour"} <= rules
    confidences = {(s.input.command_type, s.input.proposal.confidence) for s in scenarios}
    assert {("case.escalate", 0.5), ("case.escalate", 0.49), ("case.update_risk", 0.9),
            ("case.update_risk", 0.89), ("case.update_risk", 1.0)} <= confidences
