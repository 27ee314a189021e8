"""A real console under uvicorn on a free localhost port, and a real browser:
Debian's chromium driven by Playwright (no downloaded browsers).

The browser tests are skipped, with a message, only when /usr/bin/chromium
(or Playwright) is missing and `CI` is not set; in CI they must run.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from signoff.server.app import App
from signoff.server.console.app import ConsoleServer, ConsoleSettings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"


def require_browser() -> None:
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install -y chromium)")
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python (pip install playwright)")
    if missing and not os.environ.get("CI"):
        pytest.skip("browser tests need " + " and ".join(missing))


@asynccontextmanager
async def console_running(app: App, settings: ConsoleSettings | None = None
                          ) -> AsyncIterator[str]:
    """Serve the console; yields its base URL. The socket listens before
    uvicorn starts, so early requests wait in the backlog instead of failing."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = ConsoleServer(app, settings or ConsoleSettings(secret="test-secret", poll_seconds=0.2),
                           host="127.0.0.1", port=port)
    stopped = anyio.Event()

    async def serve() -> None:
        try:
            await server.serve(sock)
        finally:
            stopped.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(serve)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.stop()  # a graceful shutdown, even when the test failed
            with anyio.CancelScope(shield=True):
                await stopped.wait()


@asynccontextmanager
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def sign_in(page: Any, base: str, token: str) -> Any:
    """Fill the sign-in form like a person; returns the response to the POST."""
    await page.goto(f"{base}/signin")
    await page.fill("#token", token)
    async with page.expect_navigation() as navigation:
        await page.click("button[type=submit]")
    return await navigation.value
