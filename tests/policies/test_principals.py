"""The principals file: who exists, in which tenants, with which roles and tokens."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from signoff.policies import (
    NotAMemberError,
    PrincipalFacts,
    PrincipalsLoadError,
    load_principals,
    parse_principals,
)
from tests.policies.helpers import DEMO_PRINCIPALS, write


def test_the_demo_principals_load_with_their_demo_tokens() -> None:
    people = load_principals(DEMO_PRINCIPALS)
    assert {p.id for p in people} == {"agent:triage", "user:alice", "user:bob", "user:carol",
                                      "user:dana", "user:erin", "service:notifier"}
    triage = people.get("agent:triage")
    assert triage is not None
    assert triage.kind == "agent"
    assert triage.tenants == ("acme", "globex")
    assert triage.roles == ()
    roles = {p.id: (p.tenants, p.roles) for p in people if p.kind == "user"}
    assert roles == {
        "user:alice": (("acme",), ("supervisor",)), "user:bob": (("acme",), ("legal",)),
        "user:carol": (("acme",), ("analyst",)), "user:dana": (("globex",), ("supervisor",)),
        "user:erin": (("globex",), ("legal",)),
    }
    notifier = people.get("service:notifier")
    assert notifier is not None
    assert (notifier.kind, notifier.token_sha256) == ("service", None)  # in-process only
    for record in people:
        if record is notifier:
            continue
        name = record.id.split(":", 1)[1]
        assert record.token_sha256 == hashlib.sha256(f"demo-{name}".encode()).hexdigest()
        assert people.by_token(f"demo-{name}") == record
    assert people.by_token("demo-mallory") is None
    assert people.get("user:mallory") is None
    assert [p.id for p in people.in_tenant("globex")] == ["agent:triage", "user:dana",
                                                           "user:erin", "service:notifier"]


def test_facts_only_for_a_tenant_the_principal_belongs_to() -> None:
    people = load_principals(DEMO_PRINCIPALS)
    alice = people.get("user:alice")
    assert alice is not None
    assert alice.facts("acme") == PrincipalFacts(id="user:alice", kind="user", tenant="acme",
                                                 roles=("supervisor",))
    with pytest.raises(NotAMemberError, match="globex"):
        alice.facts("globex")


GOOD = """\
[[principal]]
id = "user:zoe"
kind = "user"
tenants = ["acme"]
roles = ["legal"]
"""

# (case id, text, line, principal id, key, words of the expectation)
BAD: list[tuple[str, str, int, str | None, str, str]] = [
    ("unknown key", GOOD + 'team = "north"\n', 6, "user:zoe", "team", "known key"),
    ("bad kind", GOOD.replace('"user"\n', '"robot"\n'), 3, "user:zoe", "kind",
     "agent, user, service"),
    ("no tenants", GOOD.replace('tenants = ["acme"]\n', ""), 1, "user:zoe", "tenants",
     "to be present"),
    ("empty tenants", GOOD.replace('["acme"]', "[]"), 4, "user:zoe", "tenants", "non-empty"),
    ("roles not a list", GOOD.replace('["legal"]', '"legal"'), 5, "user:zoe", "roles",
     "array of strings"),
    ("bad token digest", GOOD + 'token_sha256 = "demo-zoe"\n', 6, "user:zoe", "token_sha256",
     "64 lowercase hex"),
    ("missing id", GOOD.replace('id = "user:zoe"\n', ""), 1, "#1", "id", "to be present"),
    ("duplicate id", GOOD + "\n" + GOOD, 8, "user:zoe", "id", "unique principal id"),
    ("duplicate token", f'{GOOD}token_sha256 = "{"a" * 64}"\n\n'
     f'{GOOD.replace("zoe", "yan")}token_sha256 = "{"a" * 64}"\n', 13, "user:yan",
     "token_sha256", "no other principal uses"),
    ("unknown top-level key", GOOD + "[groups]\nx = 1\n", 6, None, "groups", "known key"),
]


@pytest.mark.parametrize(("text", "line", "entry", "key", "expected"),
                         [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_a_bad_principals_file_names_file_line_principal_and_key(
    tmp_path: Path, text: str, line: int, entry: str | None, key: str, expected: str
) -> None:
    path = write(tmp_path, "principals.toml", text)
    with pytest.raises(PrincipalsLoadError) as caught:
        load_principals(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: "), message
    if entry is not None:
        assert f"principal {entry!r}" in message
    assert f"key {key!r}" in message
    assert expected in message


def test_a_good_minimal_file_and_syntax_errors() -> None:
    zoe = parse_principals(GOOD).get("user:zoe")
    assert zoe is not None
    assert zoe.token_sha256 is None
    assert zoe.display_name is None
    with pytest.raises(PrincipalsLoadError, match=r"^p.toml:2: expected valid TOML"):
        parse_principals('[[principal]]\nid = "x\n', "p.toml")
