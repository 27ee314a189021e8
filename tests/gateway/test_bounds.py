"""What of an upstream's result may leave signoff: redaction and the size bound."""

from __future__ import annotations

import json

import pytest
from mcp_types import (
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    TextContent,
    TextResourceContents,
)

from signoff.server.gateway.bounds import (
    TRUNCATED_META,
    bound_result,
    redact_result,
    redact_text,
)

PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx9\nabc/def+==\n"
       "-----END RSA PRIVATE KEY-----")


def text_result(*texts: str, structured: object = None) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=t) for t in texts],
                          structured_content=structured)


def size(result: CallToolResult) -> int:
    content = sum(len(b.model_dump_json().encode()) for b in result.content)
    return content + len(json.dumps(result.structured_content).encode())


@pytest.mark.parametrize("secret", [
    "Bearer eyJhbGciOiJIUzI1NiJ9.payloadpart.signaturepart",
    "bearer abcdefgh12345678",
    "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX",
    "sk-ant-api03-abcdefghijklmnopqrstu",
    "ghp_" + "a1" * 18,
    "github_pat_" + "A" * 40,
    "xoxb-1234567890-abcdefghij",
    "AKIAIOSFODNN7EXAMPLE",
    "AIza" + "B" * 35,
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpM",
    PEM,
    "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B",  # cut before its end line
])
def test_known_secret_shapes_are_redacted(secret: str) -> None:
    redacted = redact_text(f"before {secret} after")
    assert "[redacted]" in redacted
    assert redacted.startswith("before ")
    body = secret.split(None, 1)[-1] if secret.lower().startswith("bearer") else secret
    assert body not in redacted


def test_ordinary_text_is_left_alone() -> None:
    text = ("The bearer of bad news ran git commit -m 'sk-1'. Tokens: 3. "
            "-----BEGIN PUBLIC KEY----- is not private.")
    assert redact_text(text) == text


def test_literal_secrets_are_replaced_longest_first() -> None:
    assert redact_text("a hunter2hunter2 b hunter2", ["hunter2", "hunter2hunter2"]) == \
        "a [redacted] b [redacted]"


def test_short_literal_secrets_are_ignored() -> None:
    assert redact_text("main 1 main", ["main", "1"]) == "main 1 main"


def test_redact_result_covers_text_structured_and_embedded_resources() -> None:
    result = CallToolResult(
        content=[
            TextContent(type="text", text="token s3cret-value here"),
            TextContent(type="text", text=json.dumps({"password": "pw", "note": "ok"})),
            EmbeddedResource(type="resource", resource=TextResourceContents(
                uri="file:///k.pem", text=PEM)),
        ],
        structured_content={"api_key": "x", "nested": {"line": "Bearer abcdefghijkl"},
                            "list": ["s3cret-value"]},
    )
    redacted = redact_result(result, ["s3cret-value"])
    dumped = redacted.model_dump_json()
    for leaked in ("s3cret-value", '"pw"', "abcdefghijkl", "MIIEowIBAAKCAQEAx9"):
        assert leaked not in dumped
    keyed = redacted.content[1]
    assert isinstance(keyed, TextContent)
    assert json.loads(keyed.text) == {"password": "[redacted]", "note": "ok"}
    assert redacted.structured_content == {
        "api_key": "[redacted]", "nested": {"line": "Bearer [redacted]"},
        "list": ["[redacted]"]}
    # The input is untouched.
    assert result.content[0] == TextContent(type="text", text="token s3cret-value here")


def test_a_result_within_the_bound_is_returned_as_is() -> None:
    result = text_result("small", structured={"result": "small"})
    assert bound_result(result, 1024) is result


def test_a_big_text_is_cut_and_says_so() -> None:
    result = text_result("x" * 5_000_000)
    bounded = bound_result(result, 10_000)
    assert size(bounded) <= 10_000 + 400
    note = bounded.content[-1]
    assert isinstance(note, TextContent)
    assert "5000000 bytes" in note.text
    assert bounded.meta is not None
    assert bounded.meta[TRUNCATED_META] == {"bytes": 5_000_000, "max_bytes": 10_000}
    first = bounded.content[0]
    assert isinstance(first, TextContent)
    assert first.text.startswith("xxx")


def test_text_and_its_structured_twin_share_the_bound() -> None:
    big = "y" * 1_000_000
    bounded = bound_result(text_result(big, structured={"result": big}), 20_000)
    assert size(bounded) <= 20_000 + 600
    structured = bounded.structured_content
    assert isinstance(structured, dict)
    assert structured[TRUNCATED_META]["bytes"] > 1_000_000
    assert structured[TRUNCATED_META]["preview"].startswith('{"result": "yyy')


def test_blocks_past_the_bound_are_dropped_and_counted() -> None:
    image = ImageContent(type="image", data="A" * 50_000, mime_type="image/png")
    bounded = bound_result(CallToolResult(content=[TextContent(type="text", text="head"), image,
                                                   TextContent(type="text", text="tail")]),
                           5_000)
    kinds = [b.type for b in bounded.content]
    assert kinds == ["text", "text"]
    note = bounded.content[-1]
    assert isinstance(note, TextContent)
    assert "2 content block(s)" in note.text


def test_cutting_never_splits_a_character() -> None:
    bounded = bound_result(text_result("é" * 100_000), 1_001)
    first = bounded.content[0]
    assert isinstance(first, TextContent)
    assert set(first.text) <= {"é"}
    first.text.encode()  # valid UTF-8
