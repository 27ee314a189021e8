"""What an agent sees over real stdio, in both protocol generations: exactly
the domain's queries, its commands, get_proposal and withdraw_proposal, with honest annotations
and schemas; and one query and one command work in each generation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from mcp_types import TextContent, Tool

from signoff.examples.casework import build_domain
from signoff.policies import Gate, load_policy, load_principals
from signoff.server.app import example_file
from tests.mcp.conftest import ACME_CASES, stdio_session

DOMAIN = build_domain()
AGENT = load_principals(example_file("principals.toml")).get("agent:triage")
assert AGENT is not None
GATE = Gate(load_policy(example_file("policy.toml"), DOMAIN.command_types()))
QUERY_TOOLS = {q.name for q in DOMAIN.queries} | {"get_proposal"}
# The commands the agent's policy lets it propose: the others are not listed.
COMMAND_TOOLS = {c.tool for c in DOMAIN.commands
                 if GATE.may_propose(AGENT.facts("acme"), c.name)}
HIDDEN = {c.tool for c in DOMAIN.commands} - COMMAND_TOOLS
VERSIONED = {c.tool for c in DOMAIN.commands if c.requires_version}
# A tool named like this would act instead of propose.
ACTING_NAME = re.compile(r"^(approve|reject|execute|commit|write|vote|delete|set|apply)_")


def check_tools(tools: list[Tool]) -> None:
    by_name = {t.name: t for t in tools}
    assert set(by_name) == QUERY_TOOLS | COMMAND_TOOLS | {"withdraw_proposal"}
    assert not HIDDEN & set(by_name)
    assert not [name for name in by_name if ACTING_NAME.match(name)]
    for name in QUERY_TOOLS:
        hints = by_name[name].annotations
        assert hints is not None, name
        assert (hints.read_only_hint, hints.idempotent_hint, hints.open_world_hint) == (
            True, True, False), name
        assert by_name[name].output_schema is not None, name
    for name in COMMAND_TOOLS:
        tool = by_name[name]
        hints = tool.annotations
        assert hints is not None, name
        assert (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint) == (
            False, False, True), name
        assert "proposal" in (tool.description or ""), name
        schema = tool.input_schema
        assert schema["additionalProperties"] is False, name
        assert {"rationale", "evidence_refs", "confidence", "idempotency_key"} <= set(
            schema["properties"]), name
        assert "confidence" in schema["required"], name
        assert ("expected_version" in schema.get("required", [])) == (name in VERSIONED), name
        assert tool.output_schema is not None
        assert {"proposal_id", "status", "outcome", "decision", "next"} <= set(
            tool.output_schema["properties"]), name


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_tools_query_and_command_over_stdio(db: Path, mode: str) -> None:
    async with stdio_session(db, mode=mode) as client:
        listed = await client.list_tools()
        check_tools(listed.tools)

        cases = await client.call_tool("list_cases", {})
        assert not cases.is_error
        assert cases.structured_content is not None
        assert {c["case_id"] for c in cases.structured_content["cases"]} == ACME_CASES

        brief = await client.call_tool("create_analyst_brief", {
            "case_id": "case-acme-001", "summary": "Fee schedule omits the platform fee.",
            "evidence_refs": ["ev-acme-001-a"], "confidence": 0.9,
        })
        assert not brief.is_error
        receipt = brief.structured_content
        assert receipt is not None
        assert (receipt["status"], receipt["outcome"]) == ("executed", "accepted")
        assert [e["event_type"] for e in receipt["events"]] == ["case.brief_added"]
        assert receipt["decision"]["rule_id"] == "brief.allow"
        # SPEC's receipt, holding what a model needs; its JSON text is the structured content.
        assert set(receipt) == {"proposal_id", "status", "outcome", "command_type",
                                "aggregate_id", "decision", "events", "reason", "next"}
        assert set(receipt["decision"]) == {"effect", "rule_id", "reason", "policy_version",
                                            "approvers_required", "approver_roles", "expires_at"}
        assert set(receipt["events"][0]) == {"event_type", "aggregate_id", "aggregate_version",
                                             "position", "payload"}
        text = brief.content[-1]
        assert isinstance(text, TextContent)
        assert json.loads(text.text) == receipt
