"""Arguments of the wrong JSON type are refused, not coerced: a string or a
boolean where the published schema says number or integer gets an isError
answer naming the field (a validation_error receipt for command tools) and
writes nothing - over real stdio, as a model's client would send them."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import snapshot
from tests.mcp.conftest import stdio_session

BRIEF = {"case_id": "case-acme-001", "summary": "A brief.", "confidence": 0.9}
ESCALATION = {"case_id": "case-acme-001", "expected_version": 4, "confidence": 0.8,
              "evidence_refs": ["ev-acme-001-a"]}

# (tool, arguments, the field refused, the JSON type the schema publishes for it)
COMMAND_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("create_analyst_brief", {**BRIEF, "confidence": True}, "confidence", "number"),
    ("create_analyst_brief", {**BRIEF, "confidence": "0.95"}, "confidence", "number"),
    ("propose_case_escalation", {**ESCALATION, "expected_version": "4"}, "expected_version",
     "integer"),
    ("propose_case_escalation", {**ESCALATION, "expected_version": True}, "expected_version",
     "integer"),
    ("propose_case_escalation", {**ESCALATION, "evidence_refs": "ev-acme-001-a"},
     "evidence_refs", "array"),
]
QUERY_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("list_cases", {"limit": "5"}, "limit", "integer"),
    ("list_cases", {"limit": True}, "limit", "integer"),
    ("search_evidence", {"case_id": "case-acme-001", "limit": "5"}, "limit", "integer"),
]


def published_types(schema: dict[str, Any], field: str) -> set[str]:
    prop = schema["properties"][field]
    options = prop.get("anyOf", [prop])
    return {option["type"] for option in options if "type" in option}


def proposal_count(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM proposals").fetchone()[0])


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


@pytest.mark.anyio
async def test_wrong_json_types_are_refused_and_write_nothing(db: Path) -> None:
    before, proposals = snapshot(db), proposal_count(db)
    async with stdio_session(db) as client:
        schemas = {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}
        for tool, args, field, json_type in COMMAND_CASES:
            assert json_type in published_types(schemas[tool], field), (tool, field)
            result = await client.call_tool(tool, args)
            assert result.is_error, (tool, args, result.structured_content)
            receipt = result.structured_content
            assert receipt is not None, (tool, args)
            assert receipt["outcome"] == "validation_error", (tool, args, receipt)
            assert receipt["proposal_id"] is None
            assert field in [p["field"] for p in receipt["problems"]], (tool, receipt)
        for tool, args, field, json_type in QUERY_CASES:
            assert json_type in published_types(schemas[tool], field), (tool, field)
            result = await client.call_tool(tool, args)
            assert result.is_error, (tool, args, text_of(result))
            assert "invalid arguments" in text_of(result), (tool, args)
            assert field in text_of(result), (tool, args, text_of(result))
        # The right types still pass: a float for a number, an int for an integer.
        good = await client.call_tool("create_analyst_brief", {**BRIEF, "confidence": 1})
        assert not good.is_error, good.structured_content
    assert proposal_count(db) == proposals + 1
    assert snapshot(db) != before  # only the good brief wrote anything


@pytest.mark.anyio
async def test_a_refused_type_writes_no_row(db: Path) -> None:
    before = snapshot(db)
    async with stdio_session(db) as client:
        for tool, args, _, _ in COMMAND_CASES + QUERY_CASES:
            assert (await client.call_tool(tool, args)).is_error, (tool, args)
    assert snapshot(db) == before
