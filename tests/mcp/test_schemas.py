"""Tool schemas are generated from the domain and agree with what the
proposal service accepts; `_meta` run ids are read with their aliases."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from signoff.examples.casework import build_domain
from signoff.examples.casework.payloads import CreateBrief
from signoff.server.domain import CommandType, DomainError
from signoff.server.mcp.runs import call_context
from signoff.server.mcp.schemas import command_arguments
from signoff.server.mcp.tools import tool_specs
from signoff.server.services.registry import CommandRegistry

DOMAIN = build_domain()


def test_command_arguments_are_payload_plus_proposal_fields() -> None:
    for command in DOMAIN.commands:
        model = command_arguments(command)
        fields = set(model.model_fields)
        assert set(command.payload.model_fields) < fields
        assert {"rationale", "evidence_refs", "confidence", "idempotency_key"} < fields
        assert ("expected_version" in fields) == command.requires_version
        schema = model.model_json_schema()
        assert schema["additionalProperties"] is False
        assert all(p.get("description") for p in schema["properties"].values()), command.tool


def test_the_published_bounds_are_the_enforced_ones() -> None:
    brief = next(c for c in DOMAIN.commands if c.tool == "create_analyst_brief")
    model = command_arguments(brief)
    ok = {"case_id": "case-acme-001", "summary": "s", "confidence": 0.5}
    model.model_validate(ok)
    for bad in ({**ok, "confidence": 2}, {**ok, "evidence_refs": [""] }, {**ok, "extra": 1},
                {**ok, "summary": "x" * 4001}, {**ok, "idempotency_key": "a b"}):
        with pytest.raises(ValidationError):
            model.model_validate(bad)


def test_a_payload_field_may_not_shadow_a_proposal_field() -> None:
    class Clash(BaseModel):
        confidence: str

    brief = next(c for c in DOMAIN.commands if c.tool == "create_analyst_brief")
    clash: CommandType[Clash, object] = CommandType(
        name="x.clash", tool="clash", payload=Clash, aggregate=brief.aggregate,
        decide=lambda s, p, c: [], description="d", target=lambda p: "x")
    with pytest.raises(DomainError, match="clashes"):
        command_arguments(clash)
    assert CreateBrief.model_fields.keys() == {"case_id", "summary"}


def test_every_domain_operation_is_a_tool_once() -> None:
    commands = CommandRegistry()
    commands.add(DOMAIN.commands, source="domain")
    names = [spec.name for spec in tool_specs(DOMAIN, commands)]
    # + get_proposal and withdraw_proposal
    assert len(names) == len(set(names)) == len(DOMAIN.queries) + 2 + len(DOMAIN.commands)


def test_call_context_from_meta() -> None:
    context, problems = call_context({"signoff/run_id": "r1", "correlation_id": "c1",
                                      "progressToken": 3})
    assert (context.run_id, context.correlation_id, context.thread_id, problems) == (
        "r1", "c1", None, [])
    preferred, _ = call_context({"signoff/run_id": "a", "run_id": "b"})
    assert preferred.run_id == "a"
    _, bad = call_context({"signoff/thread_id": 7, "run_id": "x" * 129})
    assert sorted(p.field for p in bad) == ["_meta.run_id", "_meta.signoff/thread_id"]
    assert call_context(None)[0].run_id is None
