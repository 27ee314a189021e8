"""What conditions see, and that the fast path decides exactly like the slow one."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from signoff.policies import Decision, Gate, PolicyInput
from signoff.policies.bindings import variables
from signoff.policies.cel_runtime import bind, compile_condition, references
from signoff.policies.combine import winner
from tests.policies.helpers import policy, proposal_input

CONDITIONS = [
    "has(payload.a) && payload.a > 2",
    "size(payload) > 2",
    '"b" in payload',
    'payload.b == "x" || proposal.confidence >= 0.5',
    "payload.a + 1 > 3",  # errors when `a` is missing or not a number
    "size(proposal.evidence_refs) == 0",
]


def test_references_over_approximate_what_a_condition_reads() -> None:
    assert references("payload.a > 1 && has(payload.b)") == {"payload": frozenset({"a", "b"})}
    assert references("size(payload) > 1 && payload.a == 1") == {"payload": None}
    assert references('payload["a"] == 1') == {"payload": None}
    assert references("payload.exists(k, k == 'a')") == {"payload": None}
    assert references("principal.roles.exists(r, r == 'x')") == {"principal": frozenset({"roles"})}
    assert references("has(.payload.b) && payload.a == 1") == {"payload": frozenset({"a", "b"})}
    assert compile_condition("run.proposals_so_far > 1").reads == {
        "run": frozenset({"proposals_so_far"})}


def test_variables_are_plain_and_complete() -> None:
    inp = proposal_input("case.close", {"tags": ("a",), "n": 1}, confidence=0.5,
                         evidence=("e1",))
    data = variables(inp)
    assert data["payload"] == {"tags": ["a"], "n": 1}
    assert data["proposal"] == {"command_type": "case.close", "rationale": "",
                                "evidence_refs": ["e1"], "confidence": 0.5}
    assert data["aggregate"] == {}
    assert data["run"] == {"proposals_so_far": 0, "principal_proposals_last_hour": 0}
    assert data["principal"] == {"id": "agent:triage", "kind": "agent", "tenant": "acme",
                                 "roles": []}


def reference_effect(inp: PolicyInput, effects: list[str]) -> str:
    """Each condition on its own, on the full variables: the definition of the result."""
    bindings = bind(variables(inp))
    matched = []
    for source, effect in zip(CONDITIONS, effects, strict=True):
        result = compile_condition(source).evaluate(bindings)
        if result is True or (not isinstance(result, bool) and effect != "allow"):
            matched.append(effect)
    return winner(matched)  # type: ignore[arg-type]


payloads = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    st.one_of(st.integers(-5, 5), st.sampled_from(["x", "y"]), st.booleans()),
)


@settings(max_examples=150, deadline=None)
@given(payload=payloads, confidence=st.floats(0, 1), evidence=st.booleans(),
       effects=st.lists(st.sampled_from(["allow", "ask", "deny"]), min_size=len(CONDITIONS),
                        max_size=len(CONDITIONS)))
def test_the_fast_path_decides_like_evaluating_each_condition_alone(
    payload: dict[str, Any], confidence: float, evidence: bool, effects: list[str]
) -> None:
    rules = []
    for i, (source, effect) in enumerate(zip(CONDITIONS, effects, strict=True)):
        approvers = 'approvers = { roles = ["r"] }' if effect == "ask" else ""
        rules.append(f"[[rule]]\nid = \"r{i}\"\ncommands = [\"x.y\"]\neffect = \"{effect}\"\n"
                     f"when = '{source}'\n{approvers}\n")
    gate = Gate(policy("\n".join(rules)))
    inp = proposal_input("x.y", payload, confidence=confidence,
                         evidence=("e",) if evidence else ())
    first: Decision = gate.evaluate(inp)
    assert first.effect == reference_effect(inp, effects)
    assert gate.evaluate(inp) == first  # the remembered decision is the same


FIXED_EFFECTS = ["allow", "ask", "allow", "allow", "deny", "ask"]
FIXED_GATE = Gate(policy("\n".join(
    f"[[rule]]\nid = \"r{i}\"\ncommands = [\"x.y\"]\neffect = \"{effect}\"\nwhen = '{source}'\n"
    + ('approvers = { roles = ["r"] }\n' if effect == "ask" else "")
    for i, (source, effect) in enumerate(zip(CONDITIONS, FIXED_EFFECTS, strict=True))
)))


@settings(max_examples=200, deadline=None)
@given(payload=payloads, confidence=st.floats(0, 1), evidence=st.booleans())
def test_one_gate_stays_right_across_many_inputs(
    payload: dict[str, Any], confidence: float, evidence: bool
) -> None:
    inp = proposal_input("x.y", payload, confidence=confidence,
                         evidence=("e",) if evidence else ())
    assert FIXED_GATE.evaluate(inp).effect == reference_effect(inp, FIXED_EFFECTS)
