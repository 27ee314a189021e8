"""The stdio transport's own facts: which program runs, and whether a request left."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp.shared.message import SessionMessage

from signoff.server.errors import ConfigError
from signoff.server.gateway.process import (
    CallMark,
    ProcessState,
    current_call,
    resolve_executable,
    stdio_transport,
)


def tool_call() -> SessionMessage:
    return SessionMessage(types.JSONRPCRequest(
        jsonrpc="2.0", id=1, method="tools/call", params={"name": "echo", "arguments": {}}))


def script(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "bin" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_a_program_is_found_on_the_parent_path(tmp_path: Path) -> None:
    found = script(tmp_path, "mcp-server-toy")
    argv = resolve_executable(["mcp-server-toy", "--flag"], {}, str(found.parent))
    assert argv == [str(found), "--flag"]


def test_a_declared_path_is_where_the_program_is_looked_for(tmp_path: Path) -> None:
    found = script(tmp_path, "mcp-server-toy")
    with pytest.raises(ConfigError, match="declared PATH"):
        resolve_executable(["mcp-server-toy"], {"PATH": "/nowhere"}, str(found.parent))
    assert resolve_executable(["mcp-server-toy"], {"PATH": str(found.parent)}, None) == \
        [str(found)]


def test_a_missing_program_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="command not found: 'no-such-program-x'"):
        resolve_executable(["no-such-program-x"], {}, os.defpath)
    with pytest.raises(ConfigError, match="empty"):
        resolve_executable([], {}, os.defpath)


async def write_once(code: str) -> tuple[CallMark, BaseException | None]:
    """Send one tools/call to a Python child running `code`."""
    state = ProcessState()
    mark = CallMark()
    token = current_call.set(mark)
    error: BaseException | None = None
    try:
        async with stdio_transport([sys.executable, "-c", code], {}, on_stderr=lambda _: None,
                                   state=state) as (_read, write):
            if "close" in code:
                with anyio.fail_after(30):
                    await state.ended.wait()  # it closed its stdin (and so its stdout)
            try:
                await write.send(tool_call())
            except anyio.BrokenResourceError as exc:
                error = exc
    finally:
        current_call.reset(token)
    return mark, error


@pytest.mark.anyio
async def test_a_request_written_into_stdin_counts_as_sent() -> None:
    mark, error = await write_once("import sys; sys.stdin.readline()")
    assert error is None
    assert mark.sent


@pytest.mark.anyio
async def test_a_request_to_a_closed_stdin_was_never_sent() -> None:
    mark, error = await write_once("import os, time; os.close(0); os.close(1); time.sleep(30)")
    assert isinstance(error, anyio.BrokenResourceError)
    assert not mark.sent
