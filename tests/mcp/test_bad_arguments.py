"""Every kind of bad argument, sent over real stdio, gets an isError answer
naming the problem - a structured validation_error receipt for command tools -
and writes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.core.helpers import snapshot
from tests.mcp.conftest import meta, stdio_session

BRIEF = {"case_id": "case-acme-001", "summary": "A brief.", "confidence": 0.9}
RISK = {"case_id": "case-acme-002", "risk_level": "critical", "expected_version": 3,
        "confidence": 0.9}

# (tool, arguments, the field the answer must name)
QUERY_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("get_case_summary", {}, "case_id"),                                   # missing
    ("get_case_summary", {"case_id": "case-acme-001", "sql": "1"}, "sql"),  # extra
    ("get_case_summary", {"case_id": 42}, "case_id"),                      # wrong type
    ("list_cases", {"limit": 0}, "limit"),                                 # out of range
    ("list_cases", {"limit": 101}, "limit"),
    ("list_cases", {"status": "archived"}, "status"),                      # not a choice
    ("search_evidence", {"case_id": "case-acme-001", "query": "x" * 201}, "query"),  # too long
    ("search_evidence", {"case_id": "case-acme-001", "query": "x" * 70_000}, "bytes"),  # oversized
    ("get_proposal", {"proposal_id": ""}, "proposal_id"),
    ("get_proposal", {"proposal_id": ["prop_1"]}, "proposal_id"),
]
COMMAND_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("create_analyst_brief", {}, "case_id"),
    ("create_analyst_brief", {**BRIEF, "approved": True}, "approved"),
    ("create_analyst_brief", {**BRIEF, "confidence": "high"}, "confidence"),
    ("create_analyst_brief", {**BRIEF, "confidence": 1.5}, "confidence"),
    ("create_analyst_brief", {**BRIEF, "summary": "   "}, "summary"),
    ("create_analyst_brief", {**BRIEF, "summary": "x" * 4001}, "summary"),
    ("create_analyst_brief", {**BRIEF, "summary": "x" * 70_000}, "(arguments)"),
    ("create_analyst_brief", {**BRIEF, "evidence_refs": "ev-acme-001-a"}, "evidence_refs"),
    ("create_analyst_brief", {**BRIEF, "idempotency_key": "has spaces"}, "idempotency_key"),
    ("create_analyst_brief", {**BRIEF, "expected_version": 1}, "expected_version"),
    ("propose_risk_update", {**RISK, "risk_level": "extreme"}, "risk_level"),
    ("propose_risk_update", {**RISK, "expected_version": -1}, "expected_version"),
    ("propose_risk_update", {k: v for k, v in RISK.items() if k != "expected_version"},
     "expected_version"),
]


def text_of(result: Any) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


@pytest.mark.anyio
async def test_bad_arguments_are_refused_and_write_nothing(db: Path) -> None:
    before = snapshot(db)
    async with stdio_session(db) as client:
        for tool, args, field in QUERY_CASES:
            result = await client.call_tool(tool, args)
            assert result.is_error, (tool, args)
            assert "invalid arguments" in text_of(result), (tool, args)
            assert field in text_of(result), (tool, args, text_of(result))
        for tool, args, field in COMMAND_CASES:
            result = await client.call_tool(tool, args)
            assert result.is_error, (tool, args)
            receipt = result.structured_content
            assert receipt is not None, (tool, args)
            assert receipt["outcome"] == "validation_error", (tool, args)
            assert receipt["proposal_id"] is None
            assert field in [p["field"] for p in receipt["problems"]], (tool, receipt)
            assert text_of(result).startswith("Refused (validation_error)"), (tool, args)
        bad_meta = await client.call_tool("create_analyst_brief", BRIEF,
                                          meta=meta(run_id="no spaces allowed here"))
        assert bad_meta.is_error
        assert bad_meta.structured_content is not None
        assert [p["field"] for p in bad_meta.structured_content["problems"]] == [
            "_meta.signoff/run_id"]
        unknown = await client.call_tool("approve_proposal", {"proposal_id": "prop_1"})
        assert unknown.is_error
        assert "Unknown tool" in text_of(unknown)
    assert snapshot(db) == before
