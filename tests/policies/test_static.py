"""What a policy says before any input: the cells of `signoff policy matrix`."""

from __future__ import annotations

import pytest

from signoff.policies import Effect, load_policy, static_outcome
from tests.policies.helpers import DEMO_POLICY, policy, who

MIXED = """
    [[rule]]
    id = "maybe-allow"
    commands = ["a.x"]
    effect = "allow"
    when = "proposal.confidence > 0.5"

    [[rule]]
    id = "always-ask"
    commands = ["a.y"]
    effect = "ask"
    approvers = { roles = ["r"] }

    [[rule]]
    id = "maybe-allow-y"
    commands = ["a.y"]
    effect = "allow"
    when = "proposal.confidence > 0.5"

    [[rule]]
    id = "maybe-deny"
    commands = ["a.z"]
    effect = "deny"
    when = "proposal.confidence < 0.1"

    [[rule]]
    id = "allow-z"
    commands = ["a.z"]
    effect = "allow"

    [[rule]]
    id = "no-agents"
    commands = ["a.*"]
    effect = "deny"
    principals = { kinds = ["agent"] }
    """


@pytest.mark.parametrize(("command", "kind", "effect", "possible", "may"), [
    ("a.x", "user", "conditional", ("deny", "allow"), True),
    ("a.y", "user", "ask", ("ask",), True),          # ask beats any allow
    ("a.z", "user", "conditional", ("deny", "allow"), True),
    ("a.x", "agent", "deny", ("deny",), False),       # unconditional deny selects agents
    ("a.q", "user", "deny", ("deny",), False),        # nothing names it
])
def test_static_outcomes(command: str, kind: str, effect: str, possible: tuple[Effect, ...],
                         may: bool) -> None:
    outcome = static_outcome(policy(MIXED), who(kind), command)  # type: ignore[arg-type]
    assert (outcome.effect, outcome.possible, outcome.may_propose) == (effect, possible, may)


def test_the_demo_matrix_for_the_agent() -> None:
    demo = load_policy(DEMO_POLICY)
    cells = {c: static_outcome(demo, who("agent"), c).effect for c in demo.exact_commands}
    assert cells == {
        "brief.create": "allow", "notice.create_draft": "allow", "notice.send": "allow",
        "case.update_risk": "conditional", "case.escalate": "conditional",
        "notice.approve": "ask", "case.close": "ask", "notice.record_delivery": "deny",
    }
    assert static_outcome(demo, who("agent"), "case.escalate").possible == ("deny", "ask")
