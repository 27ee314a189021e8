"""A refusal before anything is recorded still has a status (SPEC.md,
"Receipt"): `rejected`, or `conflict` for a stale version, never null, with
`proposal_id: null` - over real stdio, for each way a call is refused early."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.core.helpers import snapshot
from tests.mcp.conftest import meta, stdio_session

STATUSES = {"pending_approval", "approved", "executing", "executed", "rejected", "expired",
            "conflict", "failed", "outcome_unknown", "withdrawn"}
ESCALATION = {"case_id": "case-acme-001", "expected_version": 4, "confidence": 0.8,
              "evidence_refs": ["ev-acme-001-a"]}

# (what is wrong, tool, arguments, _meta, the outcome, the status)
REFUSALS: list[tuple[str, str, dict[str, Any], dict[str, str], str, str]] = [
    ("invalid arguments", "create_analyst_brief", {}, {}, "validation_error", "rejected"),
    ("wrong JSON type", "propose_case_escalation", {**ESCALATION, "expected_version": "4"},
     {}, "validation_error", "rejected"),
    ("invalid _meta", "propose_case_escalation", ESCALATION, {"run_id": "no spaces"},
     "validation_error", "rejected"),
    ("not permitted", "record_notice_delivery", {}, {}, "rejected", "rejected"),
    ("unknown evidence", "propose_case_escalation",
     {**ESCALATION, "evidence_refs": ["ev-nowhere"]}, {}, "rejected", "rejected"),
    ("stale expected_version", "propose_case_escalation", {**ESCALATION, "expected_version": 3},
     {}, "conflict", "conflict"),
]


@pytest.mark.anyio
async def test_early_refusals_say_rejected_or_conflict(db: Path) -> None:
    before = snapshot(db)
    async with stdio_session(db) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        receipt_schema = tools["create_analyst_brief"].output_schema
        assert receipt_schema is not None
        status_schema = receipt_schema["properties"]["status"]
        assert "null" not in str(status_schema), status_schema
        for wrong, tool, args, ids, outcome, status in REFUSALS:
            result = await client.call_tool(tool, args, meta=meta(**ids) if ids else None)
            receipt = result.structured_content
            assert result.is_error, wrong
            assert receipt is not None, wrong
            assert receipt["outcome"] == outcome, (wrong, receipt)
            assert receipt["status"] == status, (wrong, receipt)
            assert receipt["status"] in STATUSES
            assert receipt["proposal_id"] is None, (wrong, receipt)
            # The client checks only successful results against the output schema: a
            # refusal is the same receipt, so it must fit it too.
            jsonschema.validate(receipt, receipt_schema)
            assert ("problems" in receipt) == (outcome == "validation_error"), (wrong, receipt)
    assert snapshot(db) == before
