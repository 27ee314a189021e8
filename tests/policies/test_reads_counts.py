"""Whether a policy's decisions can depend on how many proposals came
before: the write path then counts a proposal before judging it, waiting for
the principal's other proposals in flight, so that the count is exact."""

from __future__ import annotations

import pytest

from tests.policies.helpers import DEMO_POLICY, policy

ALLOW = """
[[rule]]
id = "brief.allow"
commands = ["brief.create"]
effect = "allow"
"""


@pytest.mark.parametrize(("extra", "reads"), [
    ("", False),
    ("[limits]\nper_agent_per_hour = 10\n", True),
    ("[limits]\nproposals_per_run = 10\n", True),
    ('\n[[rule]]\nid = "draft"\ncommands = ["notice.create_draft"]\neffect = "allow"\n'
     'when = "proposal.confidence > 0.5"\n', False),
    ('\n[[rule]]\nid = "draft"\ncommands = ["notice.create_draft"]\neffect = "deny"\n'
     'when = "run.proposals_so_far > 20"\n', True),
])
def test_a_policy_reads_counts_when_a_limit_or_a_condition_can(extra: str, reads: bool) -> None:
    assert policy(extra + ALLOW).reads_counts is reads


def test_the_demo_policy_reads_counts() -> None:
    assert policy(DEMO_POLICY.read_text()).reads_counts is True
