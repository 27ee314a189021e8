"""Builders for policy tests: inputs, principals and policies from short TOML."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from signoff.policies import (
    AggregateFacts,
    Policy,
    PolicyInput,
    PrincipalFacts,
    PrincipalKind,
    ProposalFacts,
    RunFacts,
    parse_policy,
)

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "casework"
DEMO_POLICY = DEMO / "policy.toml"
DEMO_PRINCIPALS = DEMO / "principals.toml"
DEMO_SCENARIOS = DEMO / "scenarios.toml"
# What agents may propose; the domain also declares a service-only command.
AGENT_COMMANDS = ("brief.create", "notice.create_draft", "notice.approve", "notice.send",
                  "case.update_risk", "case.escalate", "case.close")
SERVICE_COMMANDS = ("notice.record_delivery",)
DEMO_COMMANDS = (*AGENT_COMMANDS, *SERVICE_COMMANDS)


def who(kind: PrincipalKind = "agent", *roles: str, pid: str = "agent:triage",
        tenant: str = "acme") -> PrincipalFacts:
    return PrincipalFacts(id=pid, kind=kind, tenant=tenant, roles=roles)


def proposal_input(
    command: str,
    payload: dict[str, Any] | None = None,
    *,
    principal: PrincipalFacts | None = None,
    confidence: float = 0.0,
    evidence: tuple[str, ...] = (),
    aggregate: AggregateFacts | None = None,
    run: RunFacts | None = None,
) -> PolicyInput:
    return PolicyInput(
        principal=principal or who(),
        command_type=command,
        payload=payload or {},
        proposal=ProposalFacts(confidence=confidence, evidence_refs=evidence),
        aggregate=aggregate,
        run=run or RunFacts(),
    )


def policy(text: str, known: tuple[str, ...] | None = None) -> Policy:
    return parse_policy(textwrap.dedent(text), source="test.toml", known_commands=known)


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path
