"""The App card in a real browser: Debian's Chromium (Playwright) showing a
minimal MCP Apps host page built from `@modelcontextprotocol/ext-apps`'s host
bridge (apps-host/host.js, bundled by esbuild from apps-host/node_modules;
nothing is downloaded at run time). The page and its bundle are served by
Playwright's router under a made-up origin; every other request is refused
and recorded.

The host talks to a real `SignoffServer` through a real in-process
`mcp.Client` that declares the MCP Apps extension: the tool definition and
the `ui://` resource come from tools/list and resources/read, and each
`tools/call` the view sends through the bridge is made by that client.

The tests are skipped, with a message, when the browser or the bridge is
missing and `CI` is not set; in CI they must run (`.ci/run` installs both).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp_types import CallToolResult, TextResourceContents, Tool

from signoff.policies import PrincipalFacts
from signoff.server.app import App
from signoff.server.gateway import GatewayRuntime
from signoff.server.mcp.app_card import CARD_URI
from signoff.server.mcp.identity import FixedIdentity
from signoff.server.mcp.server import build_server
from tests.console.harness import REPO, browser, require_browser

APPS_HOST = REPO / "apps-host"
BRIDGE_PACKAGE = APPS_HOST / "node_modules" / "@modelcontextprotocol" / "ext-apps"
ESBUILD = APPS_HOST / "node_modules" / ".bin" / "esbuild"
ORIGIN = "http://apps-host.test"


def require_host() -> None:
    require_browser()
    if not (BRIDGE_PACKAGE / "package.json").exists() or not ESBUILD.exists():
        message = ("the App card's browser tests need the ext-apps host bridge in "
                   "apps-host/node_modules: run (cd apps-host && npm ci)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def build_bridge(out: Path) -> Path:
    """apps-host/host.js and the ext-apps bridge it imports, as one script."""
    bundle = out / "bridge.js"
    subprocess.run([str(ESBUILD), "host.js", "--bundle", "--format=iife", "--platform=browser",
                    "--log-level=warning", f"--outfile={bundle}"], cwd=APPS_HOST, check=True)
    return bundle


def wire(model: CallToolResult | Tool | TextResourceContents) -> dict[str, Any]:
    """A result, tool or resource content as it travels as JSON."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


@asynccontextmanager
async def connected(app: App, principal: PrincipalFacts,
                    gateway: GatewayRuntime | None = None) -> AsyncIterator[Client]:
    """A real SignoffServer and an in-process client that renders MCP Apps."""
    server = build_server(app, FixedIdentity(principal), gateway=gateway)
    host_extension = advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})
    async with server.running(), Client(server, extensions=[host_extension]) as client:
        yield client


@dataclass
class HostPage:
    """One host page showing the card for one tool call."""

    page: Any
    client: Client
    refused: list[str] = field(default_factory=list)

    @property
    def view(self) -> Any:
        """The card, inside the host's iframe."""
        return self.page.frame_locator("#slot iframe")

    def view_frame(self) -> Any:
        [frame] = [f for f in self.page.frames if f != self.page.main_frame]
        return frame

    async def show(self, tool_name: str, arguments: dict[str, Any],
                   result: CallToolResult) -> None:
        """Mount the card for `tool_name`'s call, as the host does once it answered."""
        tools = (await self.client.list_tools()).tools
        [tool] = [t for t in tools if t.name == tool_name]
        read = await self.client.read_resource(CARD_URI)
        [content] = read.contents
        assert isinstance(content, TextResourceContents)
        await self.page.evaluate("(mount) => window.mountApp(mount)", {
            "tool": wire(tool), "resource": wire(content), "tools": [wire(t) for t in tools],
            "args": arguments, "result": wire(result)})

    async def calls(self) -> list[dict[str, Any]]:
        """The tools/call requests the view sent through the bridge."""
        log = await self.page.evaluate("() => window.hostLog")
        return [entry for entry in log if "call" in entry]


def host_files(bundle: Path) -> dict[str, tuple[bytes, str]]:
    """What the host's origin serves: its page and the bridge bundle."""
    return {f"{ORIGIN}/host.html": ((APPS_HOST / "host.html").read_bytes(), "text/html"),
            f"{ORIGIN}/bridge.js": (bundle.read_bytes(), "text/javascript")}


@asynccontextmanager
async def host_page(client: Client, bundle: Path) -> AsyncIterator[HostPage]:
    async with browser() as chromium:
        context = await chromium.new_context(viewport={"width": 640, "height": 900},
                                             device_scale_factor=2)
        page = await context.new_page()
        host = HostPage(page, client)
        files = host_files(bundle)

        async def route(request: Any) -> None:
            found = files.get(request.request.url)
            if found is None:
                host.refused.append(request.request.url)
                await request.abort()
                return
            body, content_type = found
            await request.fulfill(status=200, body=body, content_type=content_type)

        async def call_tool(source: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
            # Only the host page may reach the server: the view goes through the bridge.
            if source["frame"] != page.main_frame:
                raise PermissionError("tools/call from outside the host page")
            result = await client.call_tool(params["name"], params.get("arguments") or {})
            return wire(result)

        await context.route("**/*", route)
        await page.expose_binding("signoffCallTool", call_tool)
        await page.goto(f"{ORIGIN}/host.html")
        try:
            yield host
        finally:
            await context.close()
