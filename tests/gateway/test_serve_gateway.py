"""`signoff serve --gateway` end to end: a real MCP client over stdio, the
real `mcp-server-git` behind it, a reviewer on the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from .git_world import GitWorld, make_world

pytestmark = pytest.mark.anyio


def files(world: GitWorld) -> list[str]:
    return ["--db", str(world.db), "--policy", str(world.policy),
            "--principals", str(world.principals)]


def client(world: GitWorld) -> Client:
    params = StdioServerParameters(
        command=sys.executable, cwd=str(world.root),
        args=["-m", "signoff.server.cli", "serve", *files(world), "--gateway",
              str(world.gateway), "--principal", "agent:claude", "--tenant", "local",
              "--demo"])
    return Client(stdio_client(params), mode="legacy")


def signoff(world: GitWorld, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SIGNOFF_GATEWAY": str(world.gateway)}
    return subprocess.run([sys.executable, "-m", "signoff.server.cli", *args, *files(world)],
                          capture_output=True, text=True, timeout=60, check=False, env=env,
                          stdin=subprocess.DEVNULL)


def structured(result: Any) -> dict[str, Any]:
    assert result.structured_content is not None, result
    return dict(result.structured_content)


async def settled(session: Client, proposal_id: str) -> dict[str, Any]:
    """The receipt once the relay inside serve has made the call (≤ 30 s)."""
    for _ in range(150):
        receipt = structured(await session.call_tool("get_proposal",
                                                     {"proposal_id": proposal_id}))
        if receipt["status"] != "executing":
            return receipt
        await anyio.sleep(0.2)
    raise AssertionError(f"{proposal_id} is still executing")


async def test_reads_pass_through_and_a_commit_waits_then_happens_once(tmp_path: Path) -> None:
    world = await make_world(tmp_path)
    async with client(world) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert {"repo_git_status", "repo_git_log", "repo_git_add", "repo_git_commit"} <= set(tools)
        assert "repo_git_reset" not in tools  # in neither list: not exposed
        commit_tool = tools["repo_git_commit"]
        assert commit_tool.annotations is not None
        assert commit_tool.annotations.read_only_hint is False
        assert {"rationale", "confidence", "message"} <= set(
            commit_tool.input_schema["properties"])

        status = await session.call_tool("repo_git_status", {"repo_path": str(world.repo)})
        assert not status.is_error
        assert "notes.txt" in status.content[0].text  # type: ignore[union-attr]

        added = structured(await session.call_tool("repo_git_add", {
            "repo_path": str(world.repo), "files": ["notes.txt"], "confidence": 0.9}))
        assert added["status"] == "executed"  # allowed: the result comes inline
        assert added["result"]["isError"] is False

        waiting = structured(await session.call_tool("repo_git_commit", {
            "repo_path": str(world.repo), "message": "Add notes", "confidence": 0.9,
            "rationale": "the user asked for it"}))
        assert waiting["status"] == "pending_approval"
        assert world.commits() == ["initial"]

        shown = signoff(world, "review", "show", waiting["proposal_id"], "--json")
        assert shown.returncode == 0, shown.stderr
        call = json.loads(shown.stdout)["call"]
        assert call["will_call"] == "approving will call repo.git_commit once"
        assert call["arguments"]["message"] == "Add notes"
        assert "+a line" in call["preview"]  # the staged diff the commit would record
        text = signoff(world, "review", "show", waiting["proposal_id"])
        assert text.stdout.index("approving will call") < text.stdout.index("description")
        approved = signoff(world, "review", "approve", waiting["proposal_id"], "--as",
                           "user:rita")
        assert approved.returncode == 0, approved.stdout + approved.stderr

        receipt = await settled(session, waiting["proposal_id"])
        assert receipt["status"] == "executed"
        assert world.commits() == ["Add notes", "initial"]
        assert json.dumps(receipt["result"])  # the upstream's answer, recorded


async def test_bad_arguments_are_refused_against_the_pinned_schema(tmp_path: Path) -> None:
    world = await make_world(tmp_path)
    async with client(world) as session:
        refused = await session.call_tool("repo_git_commit", {
            "repo_path": str(world.repo), "message": 5, "confidence": 0.9})
        assert refused.is_error
        assert structured(refused)["outcome"] == "validation_error"
        assert structured(refused)["proposal_id"] is None
