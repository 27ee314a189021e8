"""What the runtime log keeps of a call's arguments and result: redacted
(secret keys, sensitive fields, secret-shaped text) and bounded (marked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp_types import CallToolResult, InputRequiredResult, TextContent

from signoff.server.gateway import may_hold_secret, redact_text
from signoff.server.mcp.call_record import MAX_BYTES, TRUNCATED, answer_of, is_truncated, kept
from signoff.server.observability import nothing_to_redact, redact
from tests.mcp.conftest import meta, open_app, stdio_session

FAKE_KEY = "sk-proj-FAKEFAKEFAKEFAKEFAKE1234"


def test_secret_keys_sensitive_fields_and_secret_text_are_redacted() -> None:
    value = {"case_id": "c1", "api_key": "k-123", "nested": [{"street": "1 Main St"}],
             "summary": f"the key is {FAKE_KEY}, keep it", "count": 3}
    assert kept(value, frozenset({"street"})) == {
        "case_id": "c1", "api_key": "[redacted]", "nested": [{"street": "[redacted]"}],
        "summary": "the key is [redacted], keep it", "count": 3}


def test_a_value_over_the_bound_is_kept_as_a_marked_preview() -> None:
    value = {"body": "x" * (3 * MAX_BYTES), "password": "hunter2"}
    bounded = kept(value, frozenset())
    assert is_truncated(bounded)
    marker = bounded[TRUNCATED]
    assert marker["bytes"] > 3 * MAX_BYTES
    assert marker["preview"].startswith('{"body":"xxx')
    assert len(json.dumps(bounded).encode()) <= MAX_BYTES
    assert "hunter2" not in json.dumps(bounded)
    small = {"body": "short"}
    assert kept(small, frozenset()) is small  # nothing to redact or cut: kept as it is


@pytest.mark.parametrize("text", [
    FAKE_KEY, "sk-ant-api03-abcdefghijklmnopqrstu", "Bearer abcdefgh12345678",
    "bearer abcdefgh12345678", "ghp_" + "a1" * 18, "github_pat_" + "A" * 40,
    "xoxb-1234567890-abcdefghij", "AKIAIOSFODNN7EXAMPLE", "AIza" + "B" * 35,
    "-----BEGIN PRIVATE KEY-----\nMIIE", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghij",
])
def test_the_quick_test_never_misses_a_shape_redact_text_knows(text: str) -> None:
    assert redact_text(text) != text
    assert may_hold_secret(f"before {text} after")


def test_a_rule_id_is_no_secret() -> None:
    """"ask-supervisor" holds "sk-", not a key: the quick test lets it be."""
    assert not may_hold_secret('{"rule_id": "escalate.ask-supervisor", "token_count": 3}')


def test_the_answer_is_the_structured_content_or_the_text() -> None:
    structured = CallToolResult(content=[TextContent(type="text", text="{}")],
                                structured_content={"status": "executed"})
    text = CallToolResult(content=[TextContent(type="text", text="not found")], is_error=True)
    assert answer_of(structured) == {"status": "executed"}
    assert answer_of(text) == "not found"
    assert answer_of(InputRequiredResult(request_state="s")) == {"input_required": True}


@pytest.mark.anyio
async def test_each_call_keeps_its_arguments_and_result_without_the_secret(db: Path) -> None:
    ids = meta(run_id="run-kept")
    async with stdio_session(db) as client:
        await client.call_tool("get_case_summary", {"case_id": "case-acme-002"}, meta=ids)
        await client.call_tool("create_analyst_brief", {
            "case_id": "case-acme-001", "summary": f"vendor key {FAKE_KEY} seen in a mail",
            "confidence": 0.9}, meta=ids)
        await client.call_tool("create_analyst_brief", {
            "case_id": "case-acme-001", "summary": "noted", "confidence": 0.9,
            "api_key": FAKE_KEY}, meta=ids)
    async with open_app(db) as app:
        logged = await app.store.read(lambda uow: uow.runtime.find(run_id="run-kept"))
    query, brief, refused = logged
    assert query.arguments == {"case_id": "case-acme-002"}
    assert isinstance(query.result, dict)
    assert query.result["case_id"] == "case-acme-002"
    assert brief.arguments is not None
    assert brief.arguments["summary"] == "vendor key [redacted] seen in a mail"
    assert isinstance(brief.result, dict)
    assert brief.result["proposal_id"] == brief.proposal_id
    assert refused.arguments is not None
    assert refused.arguments["api_key"] == "[redacted]"
    assert refused.outcome == "validation_error"
    assert all(FAKE_KEY not in e.model_dump_json() for e in logged)


@pytest.mark.parametrize(("doc", "sensitive"), [
    ({"headers": {"X-API-Key": "k"}}, ()),
    ({"auth": {"Private-Key": "k"}}, ()),
    ({"items": [{"street": "1 Main St"}]}, ("street",)),
    ({"straße": "1 Hauptstraße"}, ("straße",)),
])
def test_the_quick_test_before_redaction_never_misses_a_key_redact_hides(
        doc: dict[str, object], sensitive: tuple[str, ...]) -> None:
    assert redact(doc, sensitive) != doc
    for text in (json.dumps(doc), json.dumps(doc, ensure_ascii=False)):
        assert not nothing_to_redact(text, sensitive)


def test_a_document_without_such_keys_is_spared_the_walk() -> None:
    doc = {"case_id": "c1", "summary": "a street name", "tokens_note": None}
    assert not nothing_to_redact(json.dumps(doc))  # "token" in a key: walked, to be sure
    clean = {"case_id": "c1", "summary": "a street name"}
    assert nothing_to_redact(json.dumps(clean), ["body"])
    assert redact(clean, ["body"]) is clean
