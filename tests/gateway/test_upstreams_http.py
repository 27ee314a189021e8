"""Upstreams over streamable HTTP: toybox served by uvicorn on a free port."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from mcp_types import TextContent

from signoff.server.gateway.model import Upstream
from signoff.server.gateway.upstream import Backoff, CallOutcome, Upstreams
from tests.gateway.upstreams import TOKEN, TOKEN_VAR, TOYBOX

pytestmark = pytest.mark.anyio

START_BOUND = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, Process]]:
    """(url, process) of toybox over HTTP, once it accepts connections."""
    port = free_port()
    process = await anyio.open_process([sys.executable, str(TOYBOX), "--http", str(port)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with anyio.fail_after(START_BOUND):
            while True:
                try:
                    await (await anyio.connect_tcp("127.0.0.1", port)).aclose()
                    break
                except OSError:
                    await anyio.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp", process
    finally:
        if process.returncode is None:
            process.kill()
        await process.aclose()


@pytest.fixture
async def upstreams() -> AsyncIterator[Upstreams]:
    async with Upstreams(environ={TOKEN_VAR: TOKEN}, connect_timeout=START_BOUND,
                         backoff=Backoff(initial=0.05, cap=0.2)) as opened:
        yield opened


def web(url: str) -> Upstream:
    return Upstream(name="web", url=url, timeout_seconds=5,
                    headers={"X-Pass-Through": f"env:{TOKEN_VAR}", "X-Plain": "visible"})


def answered(outcome: CallOutcome) -> Any:
    assert outcome.kind == "answered", outcome
    assert outcome.result is not None
    return outcome.result


async def test_calls_carry_the_declared_headers(
        upstreams: Upstreams, served: tuple[str, Process]) -> None:
    upstream = web(served[0])
    assert "echo" in {t.name for t in await upstreams.list_tools(upstream, "acme")}
    echo = answered(await upstreams.call_tool(upstream, "acme", "echo", {"text": "hi"}))
    assert echo.content == [TextContent(type="text", text="hi")]
    headers = answered(await upstreams.call_tool(upstream, "acme", "headers", {}))
    assert headers.structured_content["x-plain"] == "visible"
    # The secret header reached the upstream; its value never comes back.
    assert headers.structured_content["x-pass-through"] == "[redacted]"


async def test_a_hanging_tool_is_unknown_after_the_timeout(
        upstreams: Upstreams, served: tuple[str, Process]) -> None:
    upstream = web(served[0])
    hung = await upstreams.call_tool(upstream, "acme", "sleep", {"seconds": 60},
                                     timeout_seconds=0.3)
    assert hung.kind == "unknown"
    answered(await upstreams.call_tool(upstream, "acme", "echo", {"text": "still"}))


async def test_a_server_that_dies_mid_call_is_unknown_then_not_sent(
        upstreams: Upstreams, served: tuple[str, Process]) -> None:
    upstream = web(served[0])
    answered(await upstreams.call_tool(upstream, "acme", "echo", {"text": "up"}))
    crashed = await upstreams.call_tool(upstream, "acme", "crash", {})
    assert crashed.kind == "unknown"
    await served[1].wait()
    # Nothing listens any more: the connection is refused, nothing was sent.
    gone = await upstreams.call_tool(upstream, "acme", "echo", {"text": "x"})
    assert gone.kind == "not_sent"


async def test_an_unreachable_url_is_not_sent(upstreams: Upstreams) -> None:
    upstream = web(f"http://127.0.0.1:{free_port()}/mcp")
    outcome = await upstreams.call_tool(upstream, "acme", "echo", {"text": "x"})
    assert outcome.kind == "not_sent"
    assert "web" in outcome.message


async def test_a_server_gone_between_calls_is_not_sent(
        upstreams: Upstreams, served: tuple[str, Process]) -> None:
    upstream = web(served[0])
    answered(await upstreams.call_tool(upstream, "acme", "echo", {"text": "up"}))
    served[1].kill()
    await served[1].wait()
    gone = await upstreams.call_tool(upstream, "acme", "echo", {"text": "x"})
    # Refused at connect: no byte of it left (not merely "the server is down").
    assert gone.kind == "not_sent", gone
    assert "could not be reached" in gone.message
