"""Streamable HTTP: bearer tokens only, tenant from the token, tools per caller;
stateless by default, MCP sessions with `--http-sessions stateful`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import anyio
import httpx2
import pytest

from tests.mcp.conftest import ACME_CASES, GLOBEX_MARKERS, seed
from tests.mcp.http_server import CAROL_TOKEN, HttpServer, http_server

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {},
    "clientInfo": {"name": "raw", "version": "0"}}}
HEADERS = {"Accept": "application/json, text/event-stream"}
TOOLS_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    folder = tmp_path_factory.mktemp("http")
    db = folder / "signoff.db"
    anyio.run(seed, db)
    with http_server(db, folder) as running:
        yield running


@pytest.fixture(scope="module")
def stateful(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    folder = tmp_path_factory.mktemp("http-stateful")
    db = folder / "signoff.db"
    anyio.run(seed, db)
    with http_server(db, folder, "--http-sessions", "stateful") as running:
        yield running


def message(response: httpx2.Response) -> dict[str, object]:
    """The one JSON-RPC message of a response, sent as JSON or as one SSE event."""
    if response.headers["content-type"].startswith("application/json"):
        return dict(response.json())
    [data] = [line[5:] for line in response.text.splitlines() if line.startswith("data:")]
    return dict(json.loads(data))


def post(server: HttpServer, token: str | None) -> httpx2.Response:
    headers = dict(HEADERS)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx2.post(server.url, json=INITIALIZE, headers=headers, timeout=30)


@pytest.mark.parametrize("token", [None, "not-a-token", "demo-triage", "demo-alice",
                                   "demo-carol"])
def test_no_or_bad_token_is_401(server: HttpServer, token: str | None) -> None:
    # The demo tokens are in the principals file, but a server given --tokens
    # accepts those tokens only (item 5); demo-triage's principal is in two
    # tenants besides, so it could not say which.
    response = post(server, token)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_stateless_http_keeps_no_session(server: HttpServer) -> None:
    opened = post(server, "acme-agent-token")
    assert opened.status_code == 200
    assert "mcp-session-id" not in opened.headers
    result = message(opened)["result"]
    assert isinstance(result, dict)
    # A subscription would live in a session: not offered (poll, or listen on 2026-07-28).
    assert result["capabilities"]["resources"]["subscribe"] is False
    headers = {**HEADERS, "Authorization": "Bearer acme-agent-token",
               "mcp-protocol-version": "2025-11-25"}
    # A request stands alone: tools/list with no initialize before it on this connection.
    listing = httpx2.post(server.url, json=TOOLS_LIST, headers=headers, timeout=30)
    assert listing.status_code == 200
    assert "list_cases" in listing.text
    # No standalone stream for the server to send on: a GET is refused.
    assert httpx2.get(server.url, headers=headers, timeout=30).status_code == 405


def test_another_tenants_token_cannot_join_a_session(stateful: HttpServer) -> None:
    # The same principal (agent:triage) in acme and in globex: one session each.
    opened = post(stateful, "acme-agent-token")
    assert opened.status_code == 200
    result = message(opened)["result"]
    assert isinstance(result, dict)
    assert result["capabilities"]["resources"]["subscribe"] is True
    session = opened.headers["mcp-session-id"]
    headers = {**HEADERS, "Authorization": "Bearer globex-agent-token",
               "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
    joined = httpx2.post(stateful.url, json=TOOLS_LIST, headers=headers, timeout=30)
    assert joined.status_code == 404
    stream = httpx2.get(stateful.url, headers=headers, timeout=30)
    assert stream.status_code == 404


def test_an_identity_header_is_not_a_credential(server: HttpServer) -> None:
    headers = {**HEADERS, "X-Principal": "user:alice", "X-Tenant": "acme"}
    response = httpx2.post(server.url, json=INITIALIZE, headers=headers, timeout=30)
    assert response.status_code == 401


def test_bad_jwts_are_401(server: HttpServer) -> None:
    now = int(time.time())
    for token in [
        server.jwt({"sub": "agent:triage", "tenant": "acme", "aud": "http://elsewhere/mcp"}),
        server.jwt({"sub": "agent:triage", "tenant": "acme", "exp": now - 3600}),
        server.jwt({"sub": "agent:triage", "tenant": "acme", "iss": "https://evil.test"}),
        server.jwt({"sub": "agent:triage", "tenant": "acme"}, secret="x" * 40),
        server.jwt({"sub": "agent:triage"}),  # two tenants and no tenant claim
        server.jwt({"sub": "user:alice", "tenant": "globex"}),  # not a member
        server.jwt({"sub": "nobody", "tenant": "acme"}),
        # A service runs inside signoff: it never authenticates over HTTP (item 6).
        server.jwt({"sub": "service:notifier", "tenant": "acme"}),
    ]:
        assert post(server, token).status_code == 401, token


async def case_ids(server: HttpServer, token: str, mode: str = "legacy") -> set[str]:
    async with server.client(token, mode) as client:
        result = await client.call_tool("list_cases", {})
        assert not result.is_error
        assert result.structured_content is not None
        return {c["case_id"] for c in result.structured_content["cases"]}


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_the_token_decides_the_tenant(server: HttpServer, mode: str) -> None:
    assert await case_ids(server, "acme-agent-token", mode) == ACME_CASES
    globex = await case_ids(server, "globex-agent-token", mode)
    assert globex
    assert all(c.startswith("case-globex-") for c in globex)
    jwt_acme = server.jwt({"sub": "agent:triage", "tenant": "acme"})
    assert await case_ids(server, jwt_acme, mode) == ACME_CASES


@pytest.mark.anyio
async def test_acme_token_sees_no_globex_data(server: HttpServer) -> None:
    async with server.client("acme-agent-token") as client:
        seen = [await client.call_tool("get_case_context", {"case_id": "case-acme-001"}),
                await client.call_tool("get_case_summary", {"case_id": "case-globex-002"}),
                await client.call_tool("search_evidence", {"case_id": "case-globex-001"})]
    assert not seen[0].is_error
    assert seen[1].is_error
    assert seen[2].is_error
    dumped = " ".join(r.model_dump_json() for r in seen)
    assert all(marker not in dumped for marker in GLOBEX_MARKERS[2:])
    assert "ev-globex" not in dumped


@pytest.mark.anyio
async def test_tool_list_depends_on_the_caller(server: HttpServer) -> None:
    async with server.client("acme-agent-token") as agent:
        agent_tools = {t.name for t in (await agent.list_tools()).tools}
    async with server.client(CAROL_TOKEN) as carol:
        carol_tools = {t.name for t in (await carol.list_tools()).tools}
        refused = await carol.call_tool("propose_case_escalation", {
            "case_id": "case-acme-001", "expected_version": 4, "confidence": 0.9,
            "evidence_refs": ["ev-acme-001-a"]})
        context = await carol.call_tool("get_case_context", {"case_id": "case-acme-001"})
        brief = await carol.call_tool("create_analyst_brief", {
            "case_id": "case-acme-001", "summary": "carol's note", "confidence": 0.9})
    assert {"propose_case_escalation", "get_case_context", "create_analyst_brief"} <= agent_tools
    assert "propose_case_escalation" not in carol_tools
    assert "get_case_context" not in carol_tools
    assert "create_analyst_brief" in carol_tools
    # Commands the test policy mentions for no one are listed to no one.
    assert "propose_case_closure" not in agent_tools | carol_tools
    for answer in (refused, context):
        assert answer.is_error
        assert "not permitted" in answer.model_dump_json()
    assert refused.structured_content is not None
    assert refused.structured_content["proposal_id"] is None
    assert not brief.is_error
