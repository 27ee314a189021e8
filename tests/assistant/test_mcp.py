"""The assistant example end to end, as a user runs it: `signoff serve
--domain assistant` over stdio (the relay runs inside it), a real MCP
client, the owner approving on the CLI, a local endpoint counting requests;
on each adapter (`both_adapters`: a SQLite file, a PostgreSQL URL)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from signoff.examples.assistant.demo_data import DOCUMENTS, NOTES
from signoff.examples.assistant.projections import passages
from signoff.examples.assistant.tokens import count_tokens
from signoff.server.app import Database
from tests.assistant.conftest import allow
from tests.assistant.endpoint import running_endpoint
from tests.databases import both_adapters

pytestmark = [pytest.mark.anyio, both_adapters]

SEEDED = {memory_id for memory_id, *_ in NOTES} | {
    f"{doc_id}#{n}" for doc_id, _, text in DOCUMENTS for n in range(1, len(passages(text)) + 1)}


def client(db: Database, cwd: Path) -> Client:
    params = StdioServerParameters(
        command=sys.executable, cwd=str(cwd),
        args=["-m", "signoff.server.cli", "serve", "--domain", "assistant", "--db", str(db),
              "--principal", "agent:assistant", "--tenant", "home", "--demo"])
    return Client(stdio_client(params), mode="legacy")


def signoff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signoff.server.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False,
                          stdin=subprocess.DEVNULL)


async def call(session: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert result.structured_content is not None, result
    return dict(result.structured_content)


async def settled(session: Client, call_id: str, *, attempts: int = 1) -> dict[str, Any]:
    """The call once the relay inside serve is done with `attempts` of it."""
    with anyio.fail_after(30):
        while True:
            view = await call(session, "get_api_call", call_id=call_id)
            if view["attempts"] >= attempts and view["status"] not in ("requested", "started"):
                return view
            await anyio.sleep(0.1)


async def test_memory_writes_pending_and_refused_are_invisible_to_the_model(
        db: Database, tmp_path: Path) -> None:
    async with client(db, tmp_path) as session:
        tools = {t.name for t in (await session.list_tools()).tools}
        assert {"save_memory", "update_memory", "forget_memory", "call_api", "search_memory",
                "build_context", "get_api_call"} <= tools
        note = await call(session, "save_memory", text="Compost goes in the left bin",
                          confidence=0.9)
        assert note["status"] == "executed"
        fact = await call(session, "save_memory", text="Dana is allergic to peanuts",
                          kind="person_fact", subject="person:dana", confidence=0.8)
        assert fact["status"] == "pending_approval"
        secret = await session.call_tool("save_memory", {
            "text": "wifi password: peanuts-4417", "confidence": 0.9})
        assert secret.is_error
        assert secret.structured_content
        assert secret.structured_content["status"] == "rejected"

        for query in ("peanuts", "Dana allergic", "wifi password 4417"):
            assert (await call(session, "search_memory", query=query))["hits"] == []
            block = await call(session, "build_context", question=query, budget_tokens=500)
            assert "peanuts" not in block["context"]
        [hit] = (await call(session, "search_memory", query="compost bin"))["hits"]
        assert hit["memory_id"] == note["aggregate_id"]

    approved = signoff("review", "approve", fact["proposal_id"], "--as", "user:sam",
                       "--domain", "assistant", "--db", str(db), cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr

    async with client(db, tmp_path) as session:
        block = await call(session, "build_context", question="What is Dana allergic to?",
                           budget_tokens=500)
        assert f"[{fact['aggregate_id']}] memory (person_fact about person:dana): Dana is " \
               "allergic to peanuts" in block["context"]
        assert "4417" not in block["context"]
        existing = SEEDED | {note["aggregate_id"], fact["aggregate_id"]}
        for budget in (15, 40, 90, 300):
            block = await call(session, "build_context", budget_tokens=budget,
                               question="Dana, the garden bins, the dentist and trains")
            assert count_tokens(block["context"]) == block["tokens"] <= budget
            assert set(block["source_refs"]) <= existing
            assert all(f"[{ref}]" in block["context"] for ref in block["source_refs"])
            assert block["lag"] == 0


async def test_call_api_retried_by_the_relay_reaches_the_endpoint_once(
        db: Database, tmp_path: Path) -> None:
    with running_endpoint() as probe:
        port = probe.port  # a port that is free once this endpoint stops
    allow(tmp_path, f"http://127.0.0.1:{port}", private=True)
    async with client(db, tmp_path) as session:
        receipt = await call(session, "call_api", url=f"http://127.0.0.1:{port}/status",
                             confidence=0.9)
        assert receipt["status"] == "executed"
        call_id = receipt["aggregate_id"]
        # Nobody listens yet: the relay's first attempt is not sent, and it tries again.
        first = await call(session, "get_api_call", call_id=call_id)
        with anyio.fail_after(30):
            while first["attempts"] < 1 or first["status"] != "requested":
                await anyio.sleep(0.05)
                first = await call(session, "get_api_call", call_id=call_id)
        assert "nothing was sent" in first["reason"]
        with running_endpoint(port) as endpoint:
            done = await settled(session, call_id, attempts=2)
            assert done["status"] == "completed", done
            assert done["response"]["status_code"] == 200
            # Another relay over the same database finds nothing left to call.
            again = signoff("relay", "--once", "--domain", "assistant", "--db", str(db),
                            cwd=tmp_path)
            assert again.returncode == 0, again.stderr
            assert endpoint.hits["/status"] == 1

        refused = await call(session, "call_api", url="http://169.254.169.254/latest/",
                             confidence=0.9)
        view = await settled(session, refused["aggregate_id"], attempts=0)
        assert view["status"] == "refused"
        assert "is not on the allow-list" in view["reason"]
