"""The policy gate: pure rules over a `PolicyInput`, answering allow, ask or deny.

Nothing here does I/O beyond reading the files it is asked to load, and nothing
imports the server or the store, so the gate can be tested, linted and
benchmarked on its own (DESIGN.md, "Layers").
"""

from __future__ import annotations

from signoff.policies.combine import strictest, winner
from signoff.policies.errors import (
    LoadError,
    NotAMemberError,
    PolicyError,
    PolicyLoadError,
    PrincipalsLoadError,
    Problem,
    ScenarioLoadError,
)
from signoff.policies.findings import Finding
from signoff.policies.gate import DEFAULT_RULE, Gate
from signoff.policies.lint import lint_policy
from signoff.policies.loader import load_policy, parse_policy, policy_version
from signoff.policies.model import (
    DEFAULT_APPROVAL_TTL,
    AggregateFacts,
    Approvers,
    Decision,
    Effect,
    PolicyInput,
    PrincipalFacts,
    PrincipalKind,
    ProposalFacts,
    RuleTrace,
    RunFacts,
)
from signoff.policies.policy import Policy
from signoff.policies.principals import (
    PrincipalRecord,
    Principals,
    PrincipalsFile,
    load_principals,
    parse_principals,
)
from signoff.policies.rules import Limits, PrincipalSelector, QueryAccess, Rule
from signoff.policies.scenarios import (
    Scenario,
    ScenarioResult,
    load_scenarios,
    parse_scenarios,
    run_scenarios,
)
from signoff.policies.static import StaticOutcome, static_outcome

__all__ = [
    "DEFAULT_APPROVAL_TTL",
    "DEFAULT_RULE",
    "AggregateFacts",
    "Approvers",
    "Decision",
    "Effect",
    "Finding",
    "Gate",
    "Limits",
    "LoadError",
    "NotAMemberError",
    "Policy",
    "PolicyError",
    "PolicyInput",
    "PolicyLoadError",
    "PrincipalFacts",
    "PrincipalKind",
    "PrincipalRecord",
    "PrincipalSelector",
    "Principals",
    "PrincipalsFile",
    "PrincipalsLoadError",
    "Problem",
    "ProposalFacts",
    "QueryAccess",
    "Rule",
    "RuleTrace",
    "RunFacts",
    "Scenario",
    "ScenarioLoadError",
    "ScenarioResult",
    "StaticOutcome",
    "lint_policy",
    "load_policy",
    "load_principals",
    "load_scenarios",
    "parse_policy",
    "parse_principals",
    "parse_scenarios",
    "policy_version",
    "run_scenarios",
    "static_outcome",
    "strictest",
    "winner",
]
