"""MCP Tasks over streamable HTTP (`signoff serve --transport http`): the
bearer token of each task request names its caller, so the same task id is
the agent's own task under its acme token and "not found" under its globex
token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS

from signoff.server.mcp.task_wire import CreateTaskResult
from tests.mcp.conftest import seed
from tests.mcp.http_server import HttpServer, http_server
from tests.mcp.task_client import TasksClient, call_for_task, cancel_task, get_task
from tests.mcp.test_tasks import ESCALATION

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpServer]:
    folder = tmp_path_factory.mktemp("tasks-http")
    db = folder / "signoff.db"
    anyio.run(seed, db)
    with http_server(db, folder) as running:
        yield running


@asynccontextmanager
async def tasks_client(server: HttpServer, token: str) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(server.url, http_client=http),
               extensions=[TasksClient()]) as client,
    ):
        yield client


async def test_each_task_request_is_authorized_by_its_own_token(server: HttpServer) -> None:
    async with tasks_client(server, "acme-agent-token") as acme:
        task = await call_for_task(acme, "propose_case_escalation", ESCALATION)
        assert isinstance(task, CreateTaskResult), task
        assert (await get_task(acme.session, task.task_id)).status == "working"
    async with tasks_client(server, "globex-agent-token") as globex:
        for request in (get_task, cancel_task):
            with pytest.raises(MCPError) as missing:
                await request(globex.session, task.task_id)
            assert missing.value.code == INVALID_PARAMS
    async with tasks_client(server, "acme-agent-token") as acme:
        assert (await get_task(acme.session, task.task_id)).status == "working"
        await cancel_task(acme.session, task.task_id)
        assert (await get_task(acme.session, task.task_id)).status == "cancelled"
