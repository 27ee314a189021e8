"""The schema the SDK checks `Mcp-Param-*` headers against (HTTP): a tool
whose input schema declares no header gives none, so the SDK does not walk
it on every call for nothing; a tool that declares one (a gateway
upstream's pinned schema may) still has its headers checked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp.shared.inbound import validate_mcp_param_headers
from mcp_types import Tool

from signoff.server.app import App
from signoff.server.mcp.identity import FixedIdentity
from signoff.server.mcp.server import build_server, declares_headers
from tests.mcp.conftest import open_app

ANNOTATED = {"type": "object", "properties": {
    "repo": {"type": "string", "x-mcp-header": "Repo"}, "message": {"type": "string"}}}


@pytest.fixture
async def app(db: Path) -> AsyncIterator[App]:
    async with open_app(db) as opened:
        yield opened


def test_declares_headers_only_for_a_valid_annotation() -> None:
    assert declares_headers(ANNOTATED)
    assert not declares_headers({"type": "object", "properties": {"repo": {"type": "string"}}})
    invalid = {"type": "object", "properties": {"n": {"type": "array", "x-mcp-header": "N"}}}
    assert not declares_headers(invalid)  # the SDK checks nothing against such a schema
    assert validate_mcp_param_headers(invalid, {"n": [1]}, {"mcp-param-n": "2"}) is None


@pytest.mark.anyio
async def test_only_a_tool_that_declares_a_header_has_its_schema_checked(app: App) -> None:
    record = app.principals.get("agent:triage")
    assert record is not None
    server = build_server(app, FixedIdentity(record.facts("acme")))
    assert server._tools  # the domain's tools: none declares a header
    assert all(server._input_schema(name) is None for name in server._tools)
    assert server._input_schema("no_such_tool") is None
    server._tools["git_commit"] = Tool(name="git_commit", input_schema=ANNOTATED)
    schema = server._input_schema("git_commit")
    assert schema == ANNOTATED
    rejection = validate_mcp_param_headers(schema, {"repo": "a", "message": "m"},
                                           {"mcp-param-repo": "b"})
    assert rejection is not None  # the header disagrees with the argument: refused
    server._tools["git_commit"] = Tool(name="git_commit", input_schema={"type": "object"})
    assert server._input_schema("git_commit") is None  # a new listing, judged again
