"""The one private use of the MCP SDK (signoff/server/mcp/sdk_adapter.py)
still holds on the installed SDK. If one of these fails after an SDK upgrade,
the SDK moved what the adapter reads: fix the adapter (or use the public
accessor the SDK now has), not the test."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server import Server
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp_types import ListToolsResult, PaginatedRequestParams

from signoff.server.app import Settings, build_app
from signoff.server.mcp.identity import FixedIdentity
from signoff.server.mcp.sdk_adapter import SdkMismatch, connection_of
from signoff.server.mcp.server import build_server

UPGRADE_HINT = "the mcp SDK changed under signoff/server/mcp/sdk_adapter.py: "


def probe_server(seen: list[Connection], closed: list[Connection]) -> Server[Any]:
    async def list_tools(ctx: ServerRequestContext[Any, Any],
                         params: PaginatedRequestParams | None) -> ListToolsResult:
        try:
            connection = connection_of(ctx.session)
        except SdkMismatch as exc:
            pytest.fail(UPGRADE_HINT + exc.message)
        if not seen:
            connection.exit_stack.callback(closed.append, connection)
        seen.append(connection)
        return ListToolsResult(tools=[])

    return Server("probe", on_list_tools=list_tools)


@pytest.mark.anyio
async def test_each_request_reaches_its_connection_and_its_teardown() -> None:
    seen: list[Connection] = []
    closed: list[Connection] = []
    async with Client(probe_server(seen, closed), mode="legacy") as client:
        await client.list_tools()
        await client.list_tools()
        assert len(seen) == 2
        assert seen[0] is seen[1], UPGRADE_HINT + "requests of one client no longer share " \
            "the Connection behind ServerSession._connection"
        assert closed == [], UPGRADE_HINT + "the connection closed while still in use"
    assert closed == [seen[0]], UPGRADE_HINT + "Connection.exit_stack is no longer unwound " \
        "when the client disconnects"


def test_a_session_without_a_connection_is_refused_loudly() -> None:
    with pytest.raises(SdkMismatch, match=r"sdk_adapter\.py"):
        connection_of(object())  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_subscriptions_end_with_their_connection(db: Path) -> None:
    async with await build_app(Settings(db=db)) as app:
        agent = app.principals.get("agent:triage")
        assert agent is not None
        server = build_server(app, FixedIdentity(agent.facts("acme")))
        async with server.running():
            async with Client(server, mode="legacy") as client:
                made = await client.call_tool("propose_case_escalation", {
                    "case_id": "case-acme-001", "expected_version": 4, "confidence": 0.8,
                    "evidence_refs": ["ev-acme-001-a"]})
                assert made.structured_content is not None
                uri = f"signoff://proposals/{made.structured_content['proposal_id']}"
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    await client.subscribe_resource(uri)
                assert server.watch.watched == [uri]
            assert server.watch.watched == []
