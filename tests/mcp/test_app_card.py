"""The App card over a real in-process client (the SDK's memory transport):
the `ui://` resource is listed and read with the MCP Apps MIME type and its
declared CSP, the tools that answer receipts carry its `_meta.ui` binding,
the server advertises the extension, and only a client that declared it gets
the card's data. What the document may do is checked on its text: its own
CSP allows exactly its inlined blocks, it loads nothing, writes no markup
and offers no controls."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
from mcp import Client
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp_types import TextResourceContents

from signoff.server.app import App
from signoff.server.mcp.app_card import CARD_META, CARD_URI, card_html
from signoff.server.mcp.identity import FixedIdentity
from signoff.server.mcp.server import build_server
from tests.conftest import principal
from tests.mcp.app_host import connected

pytestmark = pytest.mark.anyio
ESCALATION = {"case_id": "case-acme-001", "expected_version": 4, "confidence": 0.8,
              "evidence_refs": ["ev-acme-001-a"]}
ASSETS = Path(__file__).resolve().parents[2] / "server" / "mcp" / "app"


async def test_the_card_is_a_listed_ui_resource_with_its_csp(app: App) -> None:
    async with connected(app, principal(app, "agent:triage")) as client:
        listed = (await client.list_resources()).resources
        read = await client.read_resource(CARD_URI)
        capabilities = client.server_capabilities
    [card] = [r for r in listed if r.uri == CARD_URI]
    assert card.mime_type == APP_MIME_TYPE
    [content] = read.contents
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == APP_MIME_TYPE
    assert content.text == card_html()
    no_domains: dict[str, list[str]] = {
        "connectDomains": [], "resourceDomains": [], "frameDomains": [], "baseUriDomains": []}
    assert content.meta is not None
    assert content.meta["ui"]["csp"] == no_domains
    assert card.meta is not None
    assert card.meta["ui"]["csp"] == no_domains
    assert capabilities is not None
    assert capabilities.extensions is not None
    assert EXTENSION_ID in capabilities.extensions


async def test_tools_that_answer_receipts_are_bound_to_the_card(app: App) -> None:
    async with connected(app, principal(app, "agent:triage")) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    bound = {name for name, tool in tools.items()
             if (tool.meta or {}).get("ui") == {"resourceUri": CARD_URI}}
    commands = {name for name, tool in tools.items()
                if tool.annotations is not None and not tool.annotations.read_only_hint}
    assert "get_proposal" in bound
    assert "propose_case_escalation" in commands
    assert bound == commands | {"get_proposal"}
    assert "list_cases" not in bound


async def test_only_a_client_that_renders_apps_gets_the_cards_data(app: App) -> None:
    async with connected(app, principal(app, "agent:triage")) as client:
        proposed = await client.call_tool("propose_case_escalation", ESCALATION)
        assert proposed.structured_content is not None
        proposal_id = proposed.structured_content["proposal_id"]
        followed = await client.call_tool("get_proposal", {"proposal_id": proposal_id})
    for result in (proposed, followed):
        assert result.meta is not None
        assert result.meta[CARD_META] == {
            "still_needed": "1 more approval from supervisor", "votes": []}
    server = build_server(app, FixedIdentity(principal(app, "agent:triage")))
    async with server.running(), Client(server) as plain:
        receipt = await plain.call_tool("get_proposal", {"proposal_id": proposal_id})
    assert receipt.structured_content == followed.structured_content
    assert CARD_META not in (receipt.meta or {})


async def test_another_tenants_proposal_gives_no_card_data(app: App) -> None:
    async with connected(app, principal(app, "agent:triage", "globex")) as theirs:
        answer = await theirs.call_tool("get_proposal", {"proposal_id": "prop_nope"})
    assert answer.is_error
    assert CARD_META not in (answer.meta or {})


def _csp(html: str) -> dict[str, list[str]]:
    found = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert found is not None
    return {d.split()[0]: d.split()[1:] for d in found.group(1).split("; ")}


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_documents_csp_allows_its_own_blocks_and_nothing_else() -> None:
    html = card_html()
    csp = _csp(html)
    [script] = re.findall(r"<script>(.*?)</script>", html, re.S)
    [style] = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == [_sha256(script)]
    assert csp["style-src"] == [_sha256(style)]
    for directive in ("connect-src", "img-src", "frame-src", "object-src", "base-uri"):
        assert csp[directive] == ["'none'"], directive
    assert not any("unsafe" in source for sources in csp.values() for source in sources)


def test_the_document_loads_nothing_writes_no_markup_and_has_no_controls() -> None:
    html = card_html()
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(button|form|input|select|textarea|a|img|iframe|link)\b", html)
    assert not re.search(r"\bsrc=", html)
    script = (ASSETS / "card.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                 "Function(", "fetch(", "XMLHttpRequest", "WebSocket"):
        assert sink not in script, sink
    # The one tool it calls is get_proposal: it cannot vote or propose.
    assert re.findall(r'name: "([a-z_]+)"', script) == ["get_proposal"]
