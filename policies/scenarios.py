"""Scenario files: a policy's expected decisions, written down and checked.

`signoff policy test POLICY SCENARIOS` runs each `[[scenario]]` through the real
gate and compares effect, rule and approvers. Scenarios are how agent developers
pin down permissions before an agent ever runs, so a malformed scenario is
reported like a malformed policy: file, line, scenario, key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from signoff.policies.errors import Problem, ScenarioLoadError
from signoff.policies.gate import Gate
from signoff.policies.loader import EFFECTS
from signoff.policies.model import (
    AggregateFacts,
    Decision,
    Effect,
    PolicyInput,
    PrincipalFacts,
    ProposalFacts,
    RunFacts,
)
from signoff.policies.toml_checks import Reporter, describe, read_toml

SCENARIO_KEYS = ("name", "principal", "command", "payload", "proposal", "aggregate", "run",
                 "expect", "expect_rule", "expect_approvers")
EXPECT_APPROVER_KEYS = ("roles", "count", "distinct")
_FACTS: dict[str, type[BaseModel]] = {
    "principal": PrincipalFacts, "proposal": ProposalFacts, "aggregate": AggregateFacts,
    "run": RunFacts,
}


@dataclass(frozen=True, slots=True)
class ExpectedApprovers:
    roles: frozenset[str] | None = None
    count: int | None = None
    distinct: bool | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    input: PolicyInput
    expect: Effect
    expect_rule: str | None = None
    expect_approvers: ExpectedApprovers | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    scenario: Scenario
    decision: Decision
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


def load_scenarios(path: Path) -> tuple[Scenario, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = Problem(str(path), None, None, None, "a readable UTF-8 file",
                          type(exc).__name__, "scenario")
        raise ScenarioLoadError([problem]) from None
    return parse_scenarios(text, source=str(path))


def parse_scenarios(text: str, source: str = "<string>") -> tuple[Scenario, ...]:
    data = read_toml(text, source, ScenarioLoadError)
    report = Reporter(source, text, entry_kind="scenario")
    report.keys(data, ("scenario",), (), None)
    raw = data.get("scenario", [])
    if not isinstance(raw, list) or not raw:
        report.add(("scenario",), None, "scenario", "one or more [[scenario]] tables",
                   describe(raw) if "scenario" in data else "none")
        raw = []
    scenarios: list[Scenario] = []
    names: set[str] = set()
    for index, table in enumerate(raw):
        scenario = _scenario(table, ("scenario", str(index)), f"#{index + 1}", report)
        if scenario is None:
            continue
        if scenario.name in names:
            report.add(("scenario", str(index), "name"), scenario.name, "name",
                       "a unique scenario name", repr(scenario.name))
        names.add(scenario.name)
        scenarios.append(scenario)
    report.raise_if_any(ScenarioLoadError)
    return tuple(scenarios)


def _scenario(table: Any, path: tuple[str, ...], fallback: str,
              report: Reporter) -> Scenario | None:
    if not isinstance(table, dict):
        report.add(path, fallback, None, "a table", describe(table))
        return None
    before = len(report.problems)
    name = report.string(table, "name", path, fallback, required=True) or fallback
    report.keys(table, SCENARIO_KEYS, path, name)
    command = report.string(table, "command", path, name, required=True)
    expect = table.get("expect")
    if expect not in EFFECTS:
        got = "nothing" if "expect" not in table else describe(expect)
        report.add((*path, "expect"), name, "expect", "one of allow, ask, deny", got)
    rule = report.string(table, "expect_rule", path, name, required=False)
    facts = {key: _facts(key, table, path, name, report) for key in _FACTS if key in table}
    if "principal" not in table:
        report.add(path, name, "principal", "a principal table (id, kind, tenant, roles)",
                   "nothing")
    payload = table.get("payload", {})
    if not isinstance(payload, dict):
        report.add((*path, "payload"), name, "payload", "a table", describe(payload))
    approvers = _expected_approvers(table, path, name, report)
    if len(report.problems) > before or command is None:
        return None
    inp = PolicyInput.model_validate({"command_type": command, "payload": payload, **facts})
    effect = next(e for e in EFFECTS if e == expect)
    return Scenario(name, inp, effect, rule, approvers, report.lines.find(path))


def _facts(key: str, table: dict[str, Any], path: tuple[str, ...], name: str,
           report: Reporter) -> BaseModel | None:
    model = _FACTS[key]
    try:
        return model.model_validate(table[key])
    except ValidationError as exc:
        for error in exc.errors():
            loc = tuple(str(part) for part in error["loc"])
            if error["type"] == "extra_forbidden":
                known = ", ".join(model.model_fields)
                expected, got = f"a known key (one of {known})", "an unknown key"
            elif error["type"] == "missing":
                expected, got = "this key to be present", "nothing"
            else:
                expected = error["msg"].lower().replace("input should be", "a value that is")
                got = describe(error["input"])
            report.add((*path, key, *loc), name, ".".join((key, *loc)), expected, got)
        return None


def _expected_approvers(table: dict[str, Any], path: tuple[str, ...], name: str,
                        report: Reporter) -> ExpectedApprovers | None:
    if "expect_approvers" not in table:
        return None
    where = (*path, "expect_approvers")
    raw = report.table(table["expect_approvers"], where, name, "expect_approvers")
    if raw is None:
        return None
    pre = "expect_approvers."
    report.keys(raw, EXPECT_APPROVER_KEYS, where, name, pre)
    roles = report.strings(raw, "roles", where, name, prefix=pre) if "roles" in raw else None
    count = report.integer(raw, "count", where, name, minimum=1, prefix=pre) \
        if "count" in raw else None
    distinct = report.boolean(raw, "distinct", where, name, prefix=pre) \
        if "distinct" in raw else None
    return ExpectedApprovers(frozenset(roles) if roles is not None else None, count, distinct)


def run_scenarios(gate: Gate, scenarios: tuple[Scenario, ...]) -> tuple[ScenarioResult, ...]:
    return tuple(check(gate, s) for s in scenarios)


def check(gate: Gate, scenario: Scenario) -> ScenarioResult:
    """Evaluate one scenario and list every way the decision differs from it."""
    decision = gate.evaluate(scenario.input)
    failures: list[str] = []
    if decision.effect != scenario.expect:
        failures.append(f"expected {scenario.expect}, got {decision.effect}")
    if scenario.expect_rule is not None and decision.rule_id != scenario.expect_rule:
        failures.append(f"expected rule {scenario.expect_rule!r}, got {decision.rule_id!r}")
    want = scenario.expect_approvers
    if want is not None:
        got = decision.approvers
        if got is None:
            failures.append("expected approvers, got none")
        else:
            if want.roles is not None and frozenset(got.roles) != want.roles:
                failures.append(f"expected approver roles {sorted(want.roles)}, "
                                f"got {sorted(got.roles)}")
            if want.count is not None and got.count != want.count:
                failures.append(f"expected {want.count} approvals, got {got.count}")
            if want.distinct is not None and got.distinct != want.distinct:
                failures.append(f"expected distinct = {str(want.distinct).lower()}, "
                                f"got {str(got.distinct).lower()}")
    return ScenarioResult(scenario, decision, tuple(failures))
