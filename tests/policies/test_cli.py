"""`signoff policy ...` through typer's runner and, once, through the real console script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from signoff.policies import load_policy, load_scenarios
from signoff.server.cli import app
from tests.policies.helpers import (
    DEMO_COMMANDS,
    DEMO_POLICY,
    DEMO_PRINCIPALS,
    DEMO_SCENARIOS,
    ROOT,
    write,
)

runner = CliRunner(env={"COLUMNS": "200"})


def signoff(*args: str | Path) -> Result:
    return runner.invoke(app, ["policy", *(str(a) for a in args)])


def test_lint_ok_prints_the_version() -> None:
    result = signoff("lint", DEMO_POLICY, "--domain-commands", ",".join(DEMO_COMMANDS))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"ok {load_policy(DEMO_POLICY).version}\n"
    as_json = json.loads(signoff("lint", DEMO_POLICY, "--json").stdout)
    assert as_json == {"ok": True, "file": str(DEMO_POLICY),
                       "version": load_policy(DEMO_POLICY).version, "rules": 10,
                       "warnings": []}


@pytest.mark.parametrize(("body", "where"), [
    ('[[rule]]\nid = "a"\ncommands = ["case.close"]\neffect = "permit"\n',
     ":4: rule 'a': key 'effect': expected one of allow, ask, deny"),
    ('[[rule]]\nid = "a"\ncommands = ["case.close"]\neffect = "ask"\n',
     ":1: rule 'a': key 'approvers'"),
    ('[[rule]]\nid = "a"\ncommands = ["case.close"]\neffect = "deny"\nwhen = "payload.x >"\n',
     ":5: rule 'a': key 'when': expected a boolean CEL expression"),
    ('[[rule]]\nid = "a"\ncommands = ["case.close"]\neffect = "allow"\nwho = 1\n',
     ":5: rule 'a': key 'who': expected a known key"),
    ('[limits]\nproposals_per_run = "many"\n',
     ":2: key 'limits.proposals_per_run': expected an integer >= 1"),
])
def test_lint_of_a_broken_policy_exits_1_naming_the_place(
    tmp_path: Path, body: str, where: str
) -> None:
    path = write(tmp_path, "broken.toml", body)
    result = signoff("lint", path)
    assert result.exit_code == 1
    assert result.stdout.startswith(f"{path}{where}"), result.stdout
    line = json.loads(signoff("lint", path, "--json").stdout.splitlines()[0])
    assert (line["ok"], line["file"]) == (False, str(path))
    assert line["message"].startswith(f"{path}{where}")
    assert f":{line['line']}: " in where
    assert line["key"] in where


def test_lint_against_domain_commands_fails_on_unknown_types() -> None:
    result = signoff("lint", DEMO_POLICY, "--domain-commands", "brief.create,notice.send")
    assert result.exit_code == 1
    assert "rule 'close.ask-supervisor-and-legal': key 'commands'" in result.stdout
    rows = [json.loads(line) for line in signoff(
        "lint", DEMO_POLICY, "--json", "--domain-commands", "brief.create,notice.send",
    ).stdout.splitlines()]
    assert len(rows) == 8  # one per rule naming an undeclared command type
    assert rows[-2] | {"message": ""} == {
        "ok": False, "file": str(DEMO_POLICY), "line": 89, "entry_kind": "rule",
        "entry": "close.ask-supervisor-and-legal", "key": "commands",
        "expected": "a command type the domain declares", "got": "'case.close'", "message": ""}


TYPO = '[[rule]]\nid = "a"\ncommands = ["case.escalte"]\neffect = "allow"\n'


def test_lint_checks_command_types_against_the_domain_serve_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "typo.toml", TYPO)
    result = signoff("lint", path)
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith(
        f"{path}:3: rule 'a': key 'commands': expected a command type the domain declares, "
        "got 'case.escalte'"), result.stdout
    named = signoff("lint", path, "--domain", "casework")
    assert (named.exit_code, named.stdout) == (result.exit_code, result.stdout)


def test_lint_reads_the_domain_from_the_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "typo.toml", TYPO)
    result = runner.invoke(app, ["policy", "lint", str(path)],
                           env={"SIGNOFF_DOMAIN": "no.such.module:factory"})
    assert result.exit_code == 2
    assert "cannot load domain 'no.such.module:factory'" in result.output
    listed = signoff("lint", path, "--domain-commands", "case.escalte")
    assert listed.exit_code == 0, listed.output  # an explicit list replaces the domain's


SHADOWED = """
    [[rule]]
    id = "close.allow"
    commands = ["case.close"]
    effect = "allow"

    [[rule]]
    id = "close.ask-auditor"
    commands = ["case.close"]
    effect = "ask"
    approvers = { roles = ["auditor"] }

    [[rule]]
    id = "never"
    commands = ["case.escalate"]
    effect = "deny"
    when = "1 > 2"
    """


def test_lint_warns_but_passes_unless_strict(tmp_path: Path) -> None:
    path = write(tmp_path, "warns.toml", SHADOWED)
    version = load_policy(path).version
    result = signoff("lint", path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{path}:2: rule 'close.allow': warning: never decides: "
                               "whenever it matches, 'close.ask-auditor' (ask, no condition)")
    assert lines[1].startswith(f"{path}:13: rule 'never': warning: its condition `1 > 2`")
    assert lines[2:] == [f"ok {version}, 2 warnings"]
    strict = signoff("lint", path, "--strict")
    assert strict.exit_code == 1
    assert strict.stdout.splitlines()[2:] == ["failed: 2 warnings (--strict)"]
    data = json.loads(signoff("lint", path, "--json").stdout)
    assert (data["ok"], data["version"]) == (True, version)
    assert [(w["warning"], w["entry"], w["line"], w["by"]) for w in data["warnings"]] == [
        ("shadowed", "close.allow", 2, ["close.ask-auditor"]), ("never_matches", "never", 13, [])]
    assert data["warnings"][0]["message"] == lines[0]
    assert json.loads(signoff("lint", path, "--json", "--strict").stdout)["ok"] is False
    assert signoff("lint", path, "--json", "--strict").exit_code == 1


def test_lint_with_principals_warns_of_an_ask_no_one_can_approve(tmp_path: Path) -> None:
    path = write(tmp_path, "warns.toml", SHADOWED)
    result = signoff("lint", path, "--principals", DEMO_PRINCIPALS, "--json")
    assert result.exit_code == 0, result.output
    found = [(w["warning"], w["entry"], w["tenant"]) for w in json.loads(result.stdout)["warnings"]]
    assert found == [("shadowed", "close.allow", None),
                     ("unapprovable", "close.ask-auditor", "acme"),
                     ("unapprovable", "close.ask-auditor", "globex"),
                     ("never_matches", "never", None)]
    text = signoff("lint", path, "--principals", DEMO_PRINCIPALS).stdout
    assert (f"{path}:7: rule 'close.ask-auditor': warning: no quorum can approve it in tenant "
            "'acme': it needs 1 person holding auditor; people there who may vote holding them: "
            "none\n") in text
    broken = write(tmp_path, "people.toml", '[[principal]]\nid = "x"\n')
    refused = signoff("lint", path, "--principals", broken)
    assert refused.exit_code == 1
    assert f"{broken}:1: principal 'x': key 'kind'" in refused.stdout


def test_the_demo_policy_lints_clean_with_the_demo_principals() -> None:
    result = signoff("lint", DEMO_POLICY, "--principals", DEMO_PRINCIPALS, "--strict")
    assert (result.exit_code, result.stdout) == (0, f"ok {load_policy(DEMO_POLICY).version}\n")


def test_matrix_flags_what_lint_flags(tmp_path: Path) -> None:
    path = write(tmp_path, "warns.toml", SHADOWED)
    rows = [json.loads(line) for line in signoff(
        "matrix", path, "--principals", DEMO_PRINCIPALS, "--json", "--tenant", "globex",
    ).stdout.splitlines()]
    cells = [r for r in rows if "principal" in r]
    assert len(cells) == 4 * 2
    assert [(r["warning"], r["entry"], r["tenant"]) for r in rows if "warning" in r] == [
        ("shadowed", "close.allow", None), ("unapprovable", "close.ask-auditor", "globex"),
        ("never_matches", "never", None)]
    table = runner.invoke(app, ["policy", "matrix", str(path), "--principals",
                                str(DEMO_PRINCIPALS)], env={"COLUMNS": "60"})
    assert table.exit_code == 0, table.output
    assert (f"{path}:7: rule 'close.ask-auditor': warning: no quorum can approve it in tenant "
            "'acme': it needs 1 person holding auditor;") in table.stdout  # on one line


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    assert signoff("lint", tmp_path / "absent.toml").exit_code == 2
    assert signoff("lint", tmp_path).exit_code == 2  # a directory
    assert signoff("test", DEMO_POLICY, tmp_path / "absent.toml").exit_code == 2
    assert signoff("matrix", DEMO_POLICY, "--principals", tmp_path / "x.toml").exit_code == 2
    assert signoff("lint").exit_code == 2


def test_the_demo_scenarios_all_pass() -> None:
    result = signoff("test", DEMO_POLICY, DEMO_SCENARIOS)
    assert result.exit_code == 0, result.output
    scenarios = load_scenarios(DEMO_SCENARIOS)
    assert f"all {len(scenarios)} scenarios passed" in result.stdout
    for scenario in scenarios:
        assert scenario.name in result.stdout
    rows = [json.loads(line) for line in
            signoff("test", DEMO_POLICY, DEMO_SCENARIOS, "--json").stdout.splitlines()]
    assert [r["name"] for r in rows] == [s.name for s in scenarios]
    assert all(r["passed"] and r["failures"] == [] for r in rows)


def test_a_wrong_expectation_fails_the_run(tmp_path: Path) -> None:
    text = DEMO_SCENARIOS.read_text().replace(
        'expect = "deny"\nexpect_rule = "default.deny"', 'expect = "allow"', 1)
    path = write(tmp_path, "scenarios.toml", text)
    result = signoff("test", DEMO_POLICY, path)
    assert result.exit_code == 1
    assert "FAIL" in result.stdout
    assert "expected allow, got deny" in result.stdout
    assert "1 failed" in result.stdout


def test_a_malformed_scenario_file_is_a_failed_check(tmp_path: Path) -> None:
    path = write(tmp_path, "scenarios.toml", '[[scenario]]\nname = "x"\nexpect = "allow"\n')
    result = signoff("test", DEMO_POLICY, path)
    assert result.exit_code == 1
    assert f"{path}:1: scenario 'x': key 'command'" in result.stdout


EXPLAIN = ("explain", DEMO_POLICY, "--principal", "agent:triage", "--tenant", "acme",
           "--command", "case.update_risk", "--payload", '{"risk_level": "critical"}',
           "--proposal", '{"confidence": 0.95, "evidence_refs": ["ev-1"]}')


def test_explain_shows_the_decision_and_every_candidate() -> None:
    result = signoff(*EXPLAIN)
    assert result.exit_code == 0, result.output
    assert "ask by rule risk.ask-supervisor" in result.stdout
    assert "approvers: 1 of supervisor, expires in 24h" in result.stdout
    assert "risk.allow-confident" in result.stdout
    assert "is false" in result.stdout
    data = json.loads(signoff(*EXPLAIN, "--json").stdout)
    assert (data["effect"], data["rule_id"]) == ("ask", "risk.ask-supervisor")
    assert {(t["rule_id"], t["matched"]) for t in data["trace"]} == {
        ("risk.ask-supervisor", True), ("risk.allow-confident", False)}
    assert data["approvers"]["expires_in"] == "24h"


def test_explain_reports_evaluation_errors() -> None:
    args = [a if a != '{"risk_level": "critical"}' else "{}" for a in map(str, EXPLAIN)]
    data = json.loads(signoff(*args, "--json").stdout)
    errors = {t["rule_id"]: t["error"] for t in data["trace"]}
    assert "risk_level" in (errors["risk.ask-supervisor"] or "")
    assert data["effect"] == "ask"
    assert "fail closed" in data["reason"]


@pytest.mark.parametrize(("option", "value"), [
    ("--payload", "{not json"), ("--payload", "[1]"), ("--proposal", '{"confidence": 7}'),
])
def test_explain_with_bad_json_is_a_usage_error(option: str, value: str) -> None:
    args = list(map(str, EXPLAIN))
    args[args.index(option) + 1] = value
    result = runner.invoke(app, ["policy", *args])
    assert result.exit_code == 2
    assert option in result.output


def test_matrix_json_lines_parse_and_say_who_may_do_what() -> None:
    result = signoff("matrix", DEMO_POLICY, "--principals", DEMO_PRINCIPALS, "--json",
                     "--commands", "case.reopen")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 7 * 9
    cell = {(r["principal"], r["command"]): r for r in rows}
    assert cell["agent:triage", "case.close"]["effect"] == "ask"
    assert cell["agent:triage", "case.escalate"]["effect"] == "conditional"
    assert cell["agent:triage", "case.escalate"]["possible"] == ["deny", "ask"]
    assert cell["user:alice", "case.reopen"] == {
        "principal": "user:alice", "kind": "user", "tenant": "acme", "roles": ["supervisor"],
        "command": "case.reopen", "effect": "deny", "possible": ["deny"],
        "may_propose": False, "rules": []}
    globex = signoff("matrix", DEMO_POLICY, "--principals", DEMO_PRINCIPALS, "--json",
                     "--tenant", "globex")
    assert {json.loads(x)["principal"] for x in globex.stdout.splitlines()} == {
        "agent:triage", "user:dana", "user:erin", "service:notifier"}
    table = signoff("matrix", DEMO_POLICY, "--principals", DEMO_PRINCIPALS)
    assert "conditional case.escalate: ask/deny" in table.stdout


def console_script() -> str:
    beside = Path(sys.executable).with_name("signoff")
    found = str(beside) if beside.exists() else shutil.which("signoff")
    assert found, "the signoff console script is not installed"
    return found


def test_the_real_console_script() -> None:
    env = {**os.environ, "COLUMNS": "200"}
    lint = subprocess.run([console_script(), "policy", "lint", "examples/casework/policy.toml"],
                          cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    assert (lint.returncode, lint.stdout) == (0, f"ok {load_policy(DEMO_POLICY).version}\n")
    test = subprocess.run(
        [console_script(), "policy", "test", "examples/casework/policy.toml",
         "examples/casework/scenarios.toml"],
        cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    assert test.returncode == 0, test.stdout + test.stderr
    assert f"all {len(load_scenarios(DEMO_SCENARIOS))} scenarios passed" in test.stdout
    missing = subprocess.run([console_script(), "policy", "lint", "nope.toml"], cwd=ROOT,
                             capture_output=True, text=True, env=env, check=False)
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
