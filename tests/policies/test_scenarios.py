"""Scenario files: parsing, precise errors, and honest pass/fail."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from signoff.policies import Gate, ScenarioLoadError, load_policy, parse_scenarios, run_scenarios
from tests.policies.helpers import DEMO_POLICY

ONE = """\
[[scenario]]
name = "closure"
principal = { id = "agent:triage", kind = "agent", tenant = "acme" }
command = "case.close"
payload = { case_id = "case-1" }
expect = "ask"
expect_rule = "close.ask-supervisor-and-legal"
expect_approvers = { roles = ["legal", "supervisor"], count = 2, distinct = true }
"""


def results(text: str) -> list[tuple[bool, tuple[str, ...]]]:
    gate = Gate(load_policy(DEMO_POLICY))
    return [(r.passed, r.failures) for r in run_scenarios(gate, parse_scenarios(text))]


def test_a_matching_scenario_passes_and_role_order_does_not_matter() -> None:
    assert results(ONE) == [(True, ())]


@pytest.mark.parametrize(("change", "failure"), [
    (('expect = "ask"', 'expect = "allow"'), "expected allow, got ask"),
    (('expect_rule = "close.ask-supervisor-and-legal"', 'expect_rule = "close"'),
     "expected rule 'close', got 'close.ask-supervisor-and-legal'"),
    (("count = 2", "count = 3"), "expected 3 approvals, got 2"),
    (('["legal", "supervisor"]', '["legal"]'),
     "expected approver roles ['legal'], got ['legal', 'supervisor']"),
    (("distinct = true", "distinct = false"), "expected distinct = false, got true"),
])
def test_each_mismatch_is_reported(change: tuple[str, str], failure: str) -> None:
    assert results(ONE.replace(*change)) == [(False, (failure,))]


BAD: list[tuple[str, str, int, str, str]] = [
    ("unknown key", ONE + 'expect_reason = "x"\n', 9, "expect_reason", "known key"),
    ("bad expect", ONE.replace('"ask"', '"maybe"'), 6, "expect", "allow, ask, deny"),
    ("no command", ONE.replace('command = "case.close"\n', ""), 1, "command", "present"),
    ("bad principal kind", ONE.replace('kind = "agent"', 'kind = "bot"'), 3, "principal.kind",
     "'agent', 'user' or 'service'"),
    ("confidence out of range", ONE + "proposal = { confidence = 1.5 }\n", 9,
     "proposal.confidence", "less than or equal to 1"),
    ("unknown proposal field", ONE + "proposal = { certainty = 1 }\n", 9,
     "proposal.certainty", "a known key (one of rationale, evidence_refs, confidence)"),
    ("duplicate name", ONE + "\n" + ONE, 11, "name", "unique scenario name"),
]


@pytest.mark.parametrize(("text", "line", "key", "expected"), [c[1:] for c in BAD],
                         ids=[c[0] for c in BAD])
def test_a_bad_scenario_names_line_scenario_and_key(text: str, line: int, key: str,
                                                    expected: str) -> None:
    with pytest.raises(ScenarioLoadError) as caught:
        parse_scenarios(text, "s.toml")
    message = str(caught.value)
    assert message.startswith(f"s.toml:{line}: scenario 'closure': key {key!r}: "), message
    assert expected in message


def test_an_empty_scenarios_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioLoadError, match="one or more"):
        parse_scenarios(textwrap.dedent("# nothing here\n"), "s.toml")
