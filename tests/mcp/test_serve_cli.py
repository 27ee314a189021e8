"""`signoff serve` as a process: it refuses to start for a caller it cannot
vouch for, and on stdio its stdout carries JSON-RPC and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream

from tests.mcp.conftest import serve_args, stdio_session


def run_serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signoff.server.cli", "serve", *args],
                          capture_output=True, text=True, timeout=60, check=False, env=env,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("args", "message"), [
    (["--principal", "nobody", "--tenant", "acme"], "unknown principal 'nobody'"),
    (["--principal", "user:alice", "--tenant", "globex"], "not a member of tenant 'globex'"),
    (["--principal", "agent:triage"], "several tenants"),
    (["--principal", "service:notifier", "--tenant", "acme"], "may not connect over stdio"),
    ([], "no principal"),
    (["--transport", "http", "--principal", "agent:triage"], "bearer token"),
])
def test_serve_refuses_a_caller_it_cannot_vouch_for(
        tmp_path: Path, args: list[str], message: str) -> None:
    db = tmp_path / "never-created.db"
    result = run_serve("--db", str(db), "--demo", *args,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert result.stdout == ""
    assert not db.exists()  # refused before the database was opened


def test_serve_refuses_a_request_state_key_too_short_to_be_secret(tmp_path: Path) -> None:
    db = tmp_path / "never-created.db"
    result = run_serve("--db", str(db), "--demo", "--transport", "http", env={
        "PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
        "SIGNOFF_REQUEST_STATE_KEY": "0123456789abcdef0123456789abcdef,short"})
    assert result.returncode == 2
    stderr = " ".join(result.stderr.split())
    assert "SIGNOFF_REQUEST_STATE_KEY" in stderr
    assert "keys[1] is 5 bytes" in stderr
    assert not db.exists()


def test_serve_refuses_a_missing_database_without_demo(tmp_path: Path) -> None:
    result = run_serve("--db", str(tmp_path / "missing.db"), "--principal", "user:alice")
    assert result.returncode == 2
    assert "no database" in result.stderr


def test_serve_takes_the_caller_from_the_environment(db: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "SIGNOFF_PRINCIPAL": "nobody", "SIGNOFF_TENANT": "acme"}
    result = run_serve("--db", str(db), env=env)
    assert result.returncode == 2
    assert "unknown principal 'nobody'" in result.stderr


class RawSession:
    """JSON-RPC written by hand to the server's stdin; every stdout line kept."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self.answers: dict[int, dict[str, Any]] = {}
        self._buffer = ""
        assert process.stdout is not None
        self._stdout = TextReceiveStream(process.stdout)

    async def send(self, message: dict[str, Any] | str) -> None:
        line = message if isinstance(message, str) else json.dumps(message)
        assert self.process.stdin is not None
        await self.process.stdin.send((line + "\n").encode())

    async def response(self, request_id: int) -> dict[str, Any]:
        while request_id not in self.answers:
            for parsed in map(json.loads, self._take_lines()):
                if isinstance(parsed.get("id"), int):
                    self.answers[parsed["id"]] = parsed
            if request_id not in self.answers:
                self._buffer += await self._stdout.receive()
        return self.answers[request_id]

    def _take_lines(self) -> list[str]:
        *complete, self._buffer = self._buffer.split("\n")
        self.lines += [line for line in complete if line.strip()]
        return [line for line in complete if line.strip()]

    async def drain(self) -> None:
        async for chunk in self._stdout:
            self._buffer += chunk
        self._buffer += "\n"
        self._take_lines()


def call(request_id: int, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
            "params": {"name": tool, "arguments": arguments}}


@pytest.mark.anyio
async def test_stdout_carries_only_json_rpc(db: Path, tmp_path: Path) -> None:
    with (tmp_path / "stderr.log").open("w") as errlog:
        process = await anyio.open_process([sys.executable, *serve_args(db)], stderr=errlog)
        async with process:
            raw = RawSession(process)
            with anyio.fail_after(30):
                await raw.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": {"name": "raw-test", "version": "0"}}})
                assert "result" in await raw.response(1)
                await raw.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
                await raw.send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
                assert len((await raw.response(2))["result"]["tools"]) > 5
                await raw.send(call(3, "list_cases", {}))
                await raw.send(call(4, "create_analyst_brief", {
                    "case_id": "case-acme-001", "summary": "stdout test", "confidence": 0.9}))
                await raw.send(call(5, "create_analyst_brief", {"case_id": 7}))
                await raw.send(call(6, "no_such_tool", {}))
                await raw.send("this is not json")
                await raw.send({"jsonrpc": "2.0", "id": 7, "method": "tools/list"})
                for request_id in range(3, 8):
                    await raw.response(request_id)
                assert process.stdin is not None
                await process.stdin.aclose()
                await raw.drain()
                assert await process.wait() == 0
    assert len(raw.lines) >= 7
    for line in raw.lines:
        message = json.loads(line)
        assert message["jsonrpc"] == "2.0", line
        assert {"id", "result"} <= set(message) or {"id", "error"} <= set(message) or (
            "method" in message), line


async def written(path: Path) -> None:
    """Poll for another process's file, which has no change signal to wait on."""
    file = anyio.Path(path)
    for _ in range(600):
        if await file.exists() and (await file.read_text()).strip():
            return
        await anyio.sleep(0.05)
    raise AssertionError(f"{path} was never written")


@pytest.mark.anyio
async def test_serve_delivers_to_the_sinks_it_is_given(db: Path, tmp_path: Path) -> None:
    sinks = tmp_path / "sinks.toml"
    sinks.write_text('[[sink]]\nname = "archive"\nkind = "jsonl"\npath = "archive.jsonl"\n')
    archive = tmp_path / "archive.jsonl"
    async with stdio_session(db, "--sinks", str(sinks)) as session:
        await session.list_tools()
        await written(archive)  # the relay inside serve publishes the seed's backlog
    topics = {json.loads(line)["topic"] for line in archive.read_text().splitlines()}
    assert "case.opened" in topics


@pytest.mark.parametrize("how", ["flag", "env"])
def test_serve_refuses_a_sinks_file_that_does_not_load(
        db: Path, tmp_path: Path, how: str) -> None:
    sinks = tmp_path / "sinks.toml"
    sinks.write_text('[[sink]]\nname = "archive"\nkind = "carrier-pigeon"\n')
    args = ["--sinks", str(sinks)] if how == "flag" else []
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           **({"SIGNOFF_SINKS": str(sinks)} if how == "env" else {})}
    result = run_serve("--db", str(db), "--principal", "user:alice", "--tenant", "acme", *args,
                       env=env)
    assert result.returncode == 2, result.stderr
    assert str(sinks) in " ".join(result.stderr.split())
    assert result.stdout == ""
