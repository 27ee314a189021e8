"""A small upstream MCP server of the tests' own, for what real servers will
not do on demand: sleep past a timeout, crash, answer isError, return 5 MB,
count its calls (`TOYBOX_TALLY`), leak a secret, ask for sampling, elicitation
or roots, describe itself from its environment.

    python toybox.py                # stdio
    python toybox.py --http PORT    # streamable HTTP on 127.0.0.1:PORT/mcp

`TOYBOX_HOLD` names a file: while it exists the server exits at start (code 3),
so a test decides when a restart may succeed. `TOYBOX_DESCRIPTION` replaces
the echo tool's description (a drifted catalogue). At start it writes one
stderr line holding `TOKEN`, so tests can check stderr is redacted.
"""
# The hold check runs before the SDK's imports, which take seconds on a
# loaded machine, so that a held start fails fast.
# ruff: noqa: E402

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

HOLD_EXIT = 3
if __name__ == "__main__" and (hold := os.environ.get("TOYBOX_HOLD")) and Path(hold).exists():
    print("toybox: held, exiting", file=sys.stderr, flush=True)
    sys.exit(HOLD_EXIT)

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import (
    ElicitRequest,
    ElicitRequestFormParams,
    InputRequiredResult,
    SamplingMessage,
    TextContent,
)
from pydantic import BaseModel

server = MCPServer("toybox")


@server.tool(description=os.environ.get("TOYBOX_DESCRIPTION", "Echo the text back."))
def echo(text: str) -> str:
    return text


@server.tool()
def whoami() -> dict[str, Any]:
    """This process: its pid, its whole environment, its arguments."""
    return {"pid": os.getpid(), "environ": dict(os.environ), "argv": sys.argv[1:]}


@server.tool()
def headers(ctx: Context) -> dict[str, str]:
    """The HTTP request's headers (over streamable HTTP)."""
    return dict(ctx.headers or {})


@server.tool()
async def sleep(seconds: float) -> str:
    await anyio.sleep(seconds)
    return f"slept {seconds}"


@server.tool()
def crash(code: int = 1, hold: bool = False) -> str:
    """Exit at once, answering nothing; with `hold`, create the hold file first
    so restarts fail until the test removes it."""
    if hold:
        Path(os.environ["TOYBOX_HOLD"]).touch()
    os._exit(code)


def _tally(label: str) -> str:
    """Count a call where it outlives this process: one line per call in the
    file `TOYBOX_TALLY` names (what exactly-once tests count)."""
    path = Path(os.environ["TOYBOX_TALLY"])
    with path.open("a") as tally:
        tally.write(label + "\n")
    return f"call {len(path.read_text().splitlines())}"


@server.tool()
def tally(label: str) -> str:
    """Record one call (declared not idempotent by the tests)."""
    return _tally(label)


@server.tool()
def tally_again(label: str) -> str:
    """Record one call (declared idempotent by the tests)."""
    return _tally(label)


@server.tool()
def fail(message: str) -> str:
    raise ToolError(message)  # answered as isError with the message


@server.tool()
def huge(megabytes: int) -> str:
    return "x" * (megabytes * 1024 * 1024)


@server.tool()
def leak() -> str:
    token = os.environ.get("TOKEN", "")
    return (f"token={token} auth=Bearer abcdefghijklmnop.qrstuvwxyz0123 "
            "key=sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX\n"
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----")


@server.tool()
async def ask_sampling(ctx: Context) -> str:
    try:
        await ctx.session.create_message(
            [SamplingMessage(role="user", content=TextContent(type="text", text="hi"))],
            max_tokens=5)
    except Exception as exc:  # what the client answered
        return f"refused: {exc}"
    return "granted"


class Answer(BaseModel):
    answer: str


@server.tool()
async def ask_elicitation(ctx: Context) -> str:
    try:
        result = await ctx.elicit("Say something", Answer)
    except Exception as exc:
        return f"refused: {exc}"
    return f"granted: {result.action}"


@server.tool()
async def ask_roots(ctx: Context) -> str:
    try:
        await ctx.session.list_roots()
    except Exception as exc:
        return f"refused: {exc}"
    return "granted"


@server.tool()
def ask_input(ctx: Context) -> str | InputRequiredResult:
    """The 2026-07-28 way to ask: an input_required result (elicitation)."""
    if ctx.input_responses:
        return f"granted: {sorted(ctx.input_responses)}"
    request = ElicitRequest(params=ElicitRequestFormParams(
        message="Say something", requested_schema={"type": "object", "properties": {}}))
    return InputRequiredResult(input_requests={"say": request})


@server.tool()
async def change_tools(ctx: Context) -> str:
    """Announce that the tool list changed, as the protocol in use says to."""
    if (ctx.protocol_version or "") >= "2026-07-28":
        await ctx.notify_tools_changed()
    else:
        await ctx.session.send_tool_list_changed()
    return "announced"


@server.tool()
def capabilities(ctx: Context) -> dict[str, Any]:
    """What the client declared."""
    caps = ctx.client_capabilities
    return {} if caps is None else caps.model_dump(mode="json", exclude_none=True)


def main() -> None:
    print(f"toybox: starting with token {os.environ.get('TOKEN', '')}", file=sys.stderr,
          flush=True)
    if len(sys.argv) >= 3 and sys.argv[1] == "--http":
        import uvicorn

        app = server.streamable_http_app()
        uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
    else:
        server.run()


if __name__ == "__main__":
    main()
