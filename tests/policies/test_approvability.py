"""Rules the principals on file make useless (`lint_policy` with principals)."""

from __future__ import annotations

import textwrap

import pytest

from signoff.policies import Finding, lint_policy, load_policy, parse_principals
from tests.policies.helpers import DEMO_COMMANDS, DEMO_POLICY, policy

PEOPLE = """
    [[principal]]
    id = "agent:bot"
    kind = "agent"
    tenants = ["acme", "globex"]

    [[principal]]
    id = "user:sam"
    kind = "user"
    tenants = ["acme"]
    roles = ["supervisor", "legal"]

    [[principal]]
    id = "user:lee"
    kind = "user"
    tenants = ["acme", "globex"]
    roles = ["legal"]

    [[principal]]
    id = "user:kim"
    kind = "user"
    tenants = ["globex"]
    roles = ["legal"]

    [[principal]]
    id = "service:robot"
    kind = "service"
    tenants = ["acme"]
    roles = ["supervisor"]
    """


def ask(approvers: str, principals: str | None = None) -> str:
    who = f"principals = {principals}\n" if principals else ""
    return textwrap.dedent(f"""\
        [[rule]]
        id = "the-ask"
        commands = ["a.x"]
        effect = "ask"
        {who}approvers = {approvers}
        """)


def findings(text: str, people: str = PEOPLE, tenants: tuple[str, ...] | None = None
             ) -> list[Finding]:
    records = parse_principals(textwrap.dedent(people), source="people.toml")
    return list(lint_policy(policy(text), records, tenants=tenants))


@pytest.mark.parametrize(("approvers", "tenants"), [
    ('{ roles = ["legal"] }', []),
    ('{ roles = ["supervisor"] }', ["globex"]),        # a service holding it cannot vote
    ('{ roles = ["legal"], count = 3 }', ["acme", "globex"]),  # two legal in each
    ('{ roles = ["supervisor", "legal"], count = 2 }', []),
    # globex has two people, both legal: enough votes, but no supervisor among them.
    ('{ roles = ["supervisor", "legal"], count = 2, distinct = true }', ["globex"]),
    ('{ roles = ["supervisor", "auditor"], count = 2, distinct = true }', ["acme", "globex"]),
    ('{ roles = ["auditor"] }', ["acme", "globex"]),
])
def test_an_ask_is_reported_where_no_quorum_can_form(approvers: str, tenants: list[str]) -> None:
    found = findings(ask(approvers))
    assert [f.tenant for f in found] == tenants
    assert {f.check for f in found} <= {"unapprovable"}
    for finding in found:
        assert str(finding).startswith(
            f"test.toml:1: rule 'the-ask': warning: no quorum can approve it in tenant "
            f"{finding.tenant!r}: it needs ")


def test_distinct_needs_a_different_person_per_role() -> None:
    # acme: sam holds both roles, lee only legal: sam covers supervisor, lee legal,
    # whichever role is matched first.
    for roles in ('"supervisor", "legal"', '"legal", "supervisor"'):
        assert findings(ask(f'{{ roles = [{roles}], count = 2, distinct = true }}'),
                        tenants=("acme",)) == []
    only_sam = PEOPLE.replace('tenants = ["acme", "globex"]\n    roles = ["legal"]',
                              'tenants = ["globex"]\n    roles = ["legal"]')
    found = findings(ask('{ roles = ["supervisor", "legal"], count = 2, distinct = true }'),
                     only_sam, tenants=("acme",))
    assert [f.tenant for f in found] == ["acme"]
    assert "user:sam (supervisor, legal)" in found[0].message


def test_no_one_approves_their_own_proposal() -> None:
    supervisors = '{ kinds = ["user"], roles = ["supervisor"] }'
    found = findings(ask('{ roles = ["supervisor"] }', supervisors), tenants=("acme",))
    assert [f.tenant for f in found] == ["acme"]  # sam is the only proposer and approver
    assert "no one approves their own proposal" in found[0].message
    confirm = ask('{ roles = ["supervisor"], confirm = "requester" }', supervisors)
    assert findings(confirm, tenants=("acme",)) == []  # the requester may confirm


def test_a_tenant_where_the_rule_selects_no_one_is_not_charged() -> None:
    # Only acme has a service; globex, where no quorum could form, has no proposer.
    assert findings(ask('{ roles = ["supervisor"] }', principals='{ kinds = ["service"] }')) == []


def test_a_rule_selecting_no_principal_on_file_never_matches() -> None:
    found = findings(ask('{ roles = ["auditor"] }', principals='{ roles = ["auditor"] }'))
    assert [(f.check, f.tenant) for f in found] == [("never_matches", None)]
    assert found[0].message == ("no principal on file is selected by its principals clause: "
                                "it never matches")
    scoped = findings(ask('{ roles = ["legal"] }', principals='{ kinds = ["service"] }'),
                      tenants=("globex",))
    assert "no principal of tenant 'globex'" in scoped[0].message


def test_a_shadowed_ask_is_not_charged_with_its_approvers_too() -> None:
    text = ask('{ roles = ["auditor"] }') + '[[rule]]\nid = "no"\ncommands = ["a.*"]\n' \
        'effect = "deny"\n'
    assert [f.check for f in findings(text)] == ["shadowed"]


def test_the_demo_policy_is_approvable_with_fewer_people_only_where_they_are() -> None:
    demo = load_policy(DEMO_POLICY, DEMO_COMMANDS)
    people = parse_principals(textwrap.dedent("""
        [[principal]]
        id = "agent:triage"
        kind = "agent"
        tenants = ["acme"]

        [[principal]]
        id = "user:alice"
        kind = "user"
        tenants = ["acme"]
        roles = ["supervisor"]
        """))
    found = lint_policy(demo, people)
    assert [(f.rule_id, f.check) for f in found] == [
        ("notice.approve.ask-legal", "unapprovable"),
        ("close.ask-supervisor-and-legal", "unapprovable"),
        ("notice.record_delivery.service", "never_matches"),
    ]
