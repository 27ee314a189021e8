"""Every way a policy file can be wrong fails at load, naming file, line, rule and key."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from signoff.policies import Gate, PolicyLoadError, load_policy, parse_policy
from tests.policies.helpers import DEMO_POLICY, write

GOOD_RULE = """\
[[rule]]
id = "ok"
commands = ["case.escalate"]
effect = "allow"
"""

# (case id, policy text, line of the problem, rule id or None, key, words of the expectation)
CASES: list[tuple[str, str, int, str | None, str, str]] = [
    ("unknown top-level key", """\
        [[rule]]
        id = "a"
        commands = ["case.escalate"]
        effect = "allow"

        [extras]
        x = 1
        """, 6, None, "extras", "known key"),
    ("unknown rule key", """\
        [[rule]]
        id = "a"
        commands = ["case.escalate"]
        effect = "allow"
        reasn = "typo"
        """, 5, "a", "reasn", "known key"),
    ("unknown approvers key", """\
        [[rule]]
        id = "a"
        commands = ["case.escalate"]
        effect = "ask"
        [rule.approvers]
        roles = ["supervisor"]
        quorum = 2
        """, 7, "a", "approvers.quorum", "known key"),
    ("unknown selector key", """\
        [[rule]]
        id = "a"
        commands = ["case.escalate"]
        effect = "allow"
        principals = { kinds = ["agent"], team = ["x"] }
        """, 5, "a", "principals.team", "known key"),
    ("bad effect", """\
        [[rule]]
        id = "a"
        commands = ["case.escalate"]
        effect = "permit"
        """, 4, "a", "effect", "allow, ask, deny"),
    ("ask without approvers", """\
        [[rule]]
        id = "needs-people"
        commands = ["case.escalate"]
        effect = "ask"
        """, 1, "needs-people", "approvers", "approvers table"),
    ("approvers on an allow", """\
        [[rule]]
        id = "a"
        commands = ["case.escalate"]
        effect = "allow"
        approvers = { roles = ["supervisor"] }
        """, 5, "a", "approvers", "only ask rules"),
    ("CEL syntax error", """\
        [[rule]]
        id = "a"
        commands = ["case.escalate"]
        effect = "deny"
        when = "proposal.confidence <"
        """, 5, "a", "when", "boolean CEL expression"),
    ("CEL type error", """\
        [[rule]]
        id = "a"
        commands = ["case.escalate"]
        effect = "deny"
        when = 'proposal.confidence + "x" == 1'
        """, 5, "a", "when", "boolean CEL expression"),
    ("CEL undeclared variable", """\
        [[rule]]
        id = "a"
        commands = ["case.escalate"]
        effect = "deny"
        when = 'request.size > 1'
        """, 5, "a", "when", "boolean CEL expression"),
    ("when is not boolean", """\
        [[rule]]
        id = "a"
        commands = ["case.escalate"]
        effect = "deny"
        when = "proposal.confidence"
        """, 5, "a", "when", "boolean CEL expression"),
    ("duplicate rule id", """\
        [[rule]]
        id = "twice"
        commands = ["case.escalate"]
        effect = "allow"

        [[rule]]
        id = "twice"
        commands = ["case.close"]
        effect = "deny"
        """, 7, "twice", "id", "unique rule id (already used at line 2)"),
    ("reserved rule id", """\
        [[rule]]
        id = "default.deny"
        commands = ["case.escalate"]
        effect = "deny"
        """, 2, "default.deny", "id", "the gate's own"),
    ("missing commands", """\
        [[rule]]
        id = "a"
        effect = "allow"
        """, 1, "a", "commands", "to be present"),
    ("malformed command pattern", """\
        [[rule]]
        id = "a"
        commands = ["case escalate"]
        effect = "allow"
        """, 3, "a", "commands", "command types like"),
    ("missing id", """\
        [[rule]]
        commands = ["case.escalate"]
        effect = "allow"
        """, 1, "#1", "id", "to be present"),
    ("bad expiry", """\
        [[rule]]
        id = "a"
        commands = ["case.escalate"]
        effect = "ask"
        approvers = { roles = ["supervisor"], expires_in = "1 week" }
        """, 5, "a", "approvers.expires_in", "positive duration"),
    ("distinct with too few votes", """\
        [[rule]]
        id = "a"
        commands = ["case.close"]
        effect = "ask"
        [rule.approvers]
        roles = ["supervisor", "legal"]
        count = 1
        distinct = true
        """, 7, "a", "approvers.count", "at least 2"),
    ("bad confirm", """\
        [[rule]]
        id = "a"
        commands = ["case.close"]
        effect = "ask"
        approvers = { roles = ["legal"], confirm = "anyone" }
        """, 5, "a", "approvers.confirm", '"requester"'),
    ("bad principal kind in selector", """\
        [[rule]]
        id = "a"
        commands = ["case.close"]
        effect = "allow"
        principals = { kinds = ["robot"] }
        """, 5, "a", "principals.kinds", "agent, user, service"),
    ("bad limit value", """\
        [limits]
        proposals_per_run = 0
        """, 2, None, "limits.proposals_per_run", "integer >= 1"),
    ("unknown limit", """\
        [limits]
        per_tenant_per_day = 5
        """, 2, None, "limits.per_tenant_per_day", "known key"),
    ("bad queries entry", """\
        [queries.tools.get_case_summary]
        kinds = ["agent"]
        roles = "analyst"
        """, 3, None, "queries.tools.get_case_summary.roles", "array of strings"),
    ("unknown queries key", """\
        [queries]
        everyone = true
        """, 2, None, "queries.everyone", "known key"),
    ("TOML syntax error", """\
        [[rule]]
        id = "a"
        commands = ["case.escalate"
        effect = "allow"
        """, 4, None, "", "valid TOML"),
]


@pytest.mark.parametrize(("text", "line", "rule", "key", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_policy_names_file_line_rule_and_key(
    tmp_path: Path, text: str, line: int, rule: str | None, key: str, expected: str
) -> None:
    path = write(tmp_path, "broken.toml", text)
    with pytest.raises(PolicyLoadError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert caught.value.line == line
    if rule is not None:
        assert f"rule {rule!r}" in message
        assert caught.value.rule_id == rule
    if key:
        assert f"key {key!r}" in message
        assert caught.value.key == key
    assert expected in message


@pytest.mark.parametrize(("known", "pattern", "expected"), [
    (("case.escalate",), "case.close", "a command type the domain declares"),
    (("case.escalate",), "notice.*", "a pattern matching at least one known command type"),
])
def test_rules_must_name_commands_the_domain_knows(
    known: tuple[str, ...], pattern: str, expected: str
) -> None:
    text = f'[[rule]]\nid = "r"\ncommands = ["case.escalate", "{pattern}"]\neffect = "allow"\n'
    with pytest.raises(PolicyLoadError) as caught:
        parse_policy(text, "p.toml", known_commands=known)
    assert str(caught.value) == (f"p.toml:3: rule 'r': key 'commands': expected {expected}, "
                                 f"got {pattern!r}")
    # Without a domain list the same file loads, and a matching prefix is fine.
    assert parse_policy(text, "p.toml").rules[0].commands == ("case.escalate", pattern)
    parse_policy(text.replace(pattern, "case.*"), "p.toml", known_commands=known)


def test_every_problem_is_reported_in_line_order() -> None:
    text = textwrap.dedent("""\
        [[rule]]
        id = "a"
        commands = ["x.y"]
        effect = "maybe"

        [[rule]]
        id = "b"
        commands = ["x.y"]
        effect = "deny"
        when = "1 +"
        """)
    with pytest.raises(PolicyLoadError) as caught:
        parse_policy(text, "p.toml")
    assert [(p.line, p.entry, p.key) for p in caught.value.problems] == [
        (4, "a", "effect"), (10, "b", "when")]


def test_an_unreadable_file_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(PolicyLoadError, match="readable UTF-8"):
        load_policy(path)
    with pytest.raises(PolicyLoadError, match="readable UTF-8"):
        load_policy(tmp_path / "absent.toml")


def test_a_failed_reload_keeps_the_policy_in_force(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    shutil.copy(DEMO_POLICY, path)
    gate = Gate(load_policy(path))
    before = gate.policy.version
    path.write_text(path.read_text() + '\n[[rule]]\nid = "x"\ncommands = ["a.b"]\neffect = "ok"\n')
    with pytest.raises(PolicyLoadError, match="key 'effect'"):
        gate.reload(path)
    assert gate.policy.version == before
    assert gate.reload(DEMO_POLICY) is False  # same content: same version
    path.write_text(GOOD_RULE)
    assert gate.reload(path) is True
    assert gate.policy.version != before
    assert [r.id for r in gate.policy.rules] == ["ok"]


def test_reload_checks_against_the_commands_the_policy_was_loaded_with(tmp_path: Path) -> None:
    path = write(tmp_path, "p.toml", GOOD_RULE)
    gate = Gate(load_policy(path, known_commands=["case.escalate"]))
    path.write_text(GOOD_RULE.replace("case.escalate", "case.shred"))
    with pytest.raises(PolicyLoadError, match="a command type the domain declares"):
        gate.reload(path)
    assert gate.policy.rules[0].commands == ("case.escalate",)
