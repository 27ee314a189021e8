"""MCP Tasks over real stdio: `signoff serve` as a subprocess, the SDK client
declaring the extension. The task outlives the server process that made it."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp_types import CallToolResult

from signoff.server.mcp.task_wire import CreateTaskResult
from tests.mcp.conftest import open_app, stdio_session
from tests.mcp.task_client import TasksClient, call_for_task, cancel_task, get_task
from tests.mcp.test_tasks import ESCALATION, receipt_of

pytestmark = pytest.mark.anyio
MODERN = "2026-07-28"


async def test_a_task_over_stdio_survives_a_restart_and_completes(db: Path) -> None:
    async with stdio_session(db, mode="auto", extensions=[TasksClient()]) as client:
        assert client.protocol_version == MODERN  # discovered, with the server's capabilities
        assert "io.modelcontextprotocol/tasks" in (client.server_capabilities.extensions or {})
        task = await call_for_task(client, "propose_case_escalation", ESCALATION)
        assert isinstance(task, CreateTaskResult), task
        assert task.status == "working"
    async with stdio_session(db, mode=MODERN, extensions=[TasksClient()]) as client:
        waiting = await get_task(client.session, task.task_id)
        assert (waiting.status, waiting.created_at) == ("working", task.created_at)
        async with open_app(db) as app:  # a reviewer, in another process's place
            alice = app.principals.get("user:alice")
            assert alice is not None
            await app.approvals.approve(alice.facts("acme"), task.task_id, digest=None,
                                        channel="cli")
        done = await get_task(client.session, task.task_id)
    assert done.status == "completed"
    assert receipt_of(done)["status"] == "executed"


async def test_over_stdio_the_proposer_cancels_and_others_get_receipts(db: Path) -> None:
    async with stdio_session(db, mode=MODERN, extensions=[TasksClient()]) as client:
        task = await call_for_task(client, "propose_case_escalation", ESCALATION)
        assert isinstance(task, CreateTaskResult)
        await cancel_task(client.session, task.task_id)
        assert (await get_task(client.session, task.task_id)).status == "cancelled"
    for mode in (MODERN, "legacy"):  # no extension declared, or a handshake-era client
        async with stdio_session(db, mode=mode, extensions=[TasksClient()] if mode == "legacy"
                                 else None) as client:
            result = await client.call_tool("propose_case_escalation", ESCALATION)
            assert isinstance(result, CallToolResult)
            assert result.structured_content is not None
            assert result.structured_content["status"] == "pending_approval"
