"""The seeds' boundary table, through the wire: a real client, a real
`signoff serve` over stdio, a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp_types import CallToolResult

from tests.core.helpers import snapshot, table_counts
from tests.mcp.conftest import ACME_CASES, GLOBEX_MARKERS, open_app, stdio_session

EVIDENCE = ["ev-acme-001-a", "ev-acme-001-b"]


def receipt(result: CallToolResult) -> dict[str, Any]:
    assert result.structured_content is not None, result.content
    return dict(result.structured_content)


def text(result: CallToolResult) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


async def version(client: Client, case_id: str) -> int:
    summary = await client.call_tool("get_case_summary", {"case_id": case_id})
    return int(receipt(summary)["version"])


@pytest.mark.anyio
async def test_repeated_queries_change_nothing(db: Path) -> None:
    before = snapshot(db)
    async with stdio_session(db) as client:
        for _ in range(3):
            for tool, args in [("list_cases", {}),
                               ("get_case_summary", {"case_id": "case-acme-001"}),
                               ("search_evidence", {"case_id": "case-acme-001", "query": "fee"}),
                               ("get_case_context", {"case_id": "case-acme-002"})]:
                result = await client.call_tool(tool, args)
                assert not result.is_error, text(result)
    assert snapshot(db) == before


@pytest.mark.anyio
async def test_policy_outcomes_through_the_wire(db: Path) -> None:
    async with stdio_session(db) as client:
        current = await version(client, "case-acme-001")

        denied = await client.call_tool("propose_case_escalation", {
            "case_id": "case-acme-001", "expected_version": current, "evidence_refs": [],
            "confidence": 0.9, "rationale": "no evidence cited"})
        assert denied.is_error
        r = receipt(denied)
        assert (r["status"], r["outcome"]) == ("rejected", "rejected")
        assert (r["decision"]["effect"], r["decision"]["rule_id"]) == (
            "deny", "escalate.deny-unsupported")
        assert "evidence" in text(denied)

        ask = {"case_id": "case-acme-001", "expected_version": current,
               "evidence_refs": EVIDENCE, "confidence": 0.8, "idempotency_key": "esc-1",
               "rationale": "fees undisclosed"}
        pending = await client.call_tool("propose_case_escalation", ask)
        assert not pending.is_error
        first = receipt(pending)
        assert (first["status"], first["outcome"]) == ("pending_approval", "requires_approval")
        assert first["decision"]["approver_roles"] == ["supervisor"]

        again = await client.call_tool("propose_case_escalation", ask)
        assert not again.is_error
        assert receipt(again)["outcome"] == "duplicate_accepted"
        assert receipt(again)["proposal_id"] == first["proposal_id"]

        reused = await client.call_tool("propose_case_escalation",
                                        {**ask, "expected_version": current + 1})
        assert reused.is_error
        assert receipt(reused)["outcome"] == "conflict"
        assert "idempotency_key" in receipt(reused)["reason"]

        stale = await client.call_tool("propose_risk_update", {
            "case_id": "case-acme-002", "risk_level": "critical", "expected_version": 1,
            "evidence_refs": ["ev-acme-002-a"], "confidence": 0.7})
        assert stale.is_error
        assert receipt(stale)["outcome"] == "conflict"
        assert "version" in receipt(stale)["reason"]

        followed = await client.call_tool("get_proposal", {"proposal_id": first["proposal_id"]})
        assert not followed.is_error
        assert receipt(followed)["status"] == "pending_approval"

    async with open_app(db) as app:
        pending_ids = await app.store.read(
            lambda uow: [p.proposal_id for p in uow.proposals.find(status="pending_approval")])
    assert pending_ids == [first["proposal_id"]]  # the duplicate recorded nothing


@pytest.mark.anyio
async def test_other_tenants_ids_are_not_found_and_nothing_leaks(db: Path) -> None:
    async with open_app(db) as app:  # a globex proposal, made by globex's own caller
        record = app.principals.get("agent:triage")
        assert record is not None
        globex = await app.proposals.submit(record.facts("globex"), "brief.create", {
            "case_id": "case-globex-001", "summary": "allocation logs", "confidence": 0.9})
        assert globex.status == "executed"
    before = table_counts(db)
    answers: list[CallToolResult] = []
    async with stdio_session(db) as client:
        listed = await client.call_tool("list_cases", {})
        assert {c["case_id"] for c in receipt(listed)["cases"]} == ACME_CASES
        answers.append(listed)
        probes: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
            ("get_case_summary", {"case_id": "case-globex-001"}, {"case_id": "case-nope-001"}),
            ("search_evidence", {"case_id": "case-globex-002"}, {"case_id": "case-nope-002"}),
            ("get_case_context", {"case_id": "case-globex-001"}, {"case_id": "case-nope-001"}),
            ("get_proposal", {"proposal_id": globex.proposal_id}, {"proposal_id": "prop_nope"}),
        ]
        for tool, args, absent in probes:
            theirs = await client.call_tool(tool, args)
            nobodys = await client.call_tool(tool, absent)
            assert theirs.is_error, tool
            assert nobodys.is_error, tool
            # The same answer for "not yours" as for "does not exist".
            assert text(theirs).replace(next(iter(args.values())), "X") == text(
                nobodys).replace(next(iter(absent.values())), "X"), tool
            answers.append(theirs)
        brief = await client.call_tool("create_analyst_brief", {
            "case_id": "case-globex-001", "summary": "cross-tenant attempt", "confidence": 0.9})
        assert brief.is_error
        assert receipt(brief)["outcome"] == "rejected"
        assert "not found" in receipt(brief)["reason"]
        cite = await client.call_tool("create_analyst_brief", {
            "case_id": "case-acme-001", "summary": "citing another tenant's evidence",
            "evidence_refs": ["ev-globex-001-a"], "confidence": 0.9})
        assert cite.is_error
        assert receipt(cite)["outcome"] == "rejected"
        answers += [brief, cite]
    assert table_counts(db) == before
    for answer in answers:
        dumped = json.dumps(answer.model_dump(mode="json"))
        # Only the ids the caller sent may come back; nothing else of globex's.
        for marker in ("Pinecrest", "Lumen", "asset-management", "financial-crime",
                       "allocation logs"):
            assert marker not in dumped
    assert all(m not in json.dumps(receipt(answers[0])) for m in GLOBEX_MARKERS)
