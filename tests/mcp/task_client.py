"""The client side of the Tasks extension, on the SDK's own hooks: a
`ClientExtension` whose `ResultClaim` takes the `task` result of tools/call
and, through `Client.call_tool`, polls `tasks/get` until the task is final;
and the three task requests, sent with `ClientSession.send_request`."""

from __future__ import annotations

from typing import Any

import anyio
from mcp import Client
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.session import ClientSession
from mcp_types import CallToolResult, InputResponses, TextContent

from signoff.server.mcp.task_wire import (
    EXTENSION_ID,
    CancelTaskRequest,
    CreateTaskResult,
    GetTaskRequest,
    GetTaskResult,
    TaskAck,
    TaskParams,
    UpdateTaskParams,
    UpdateTaskRequest,
)


class TasksClient(ClientExtension):
    """Declares the extension; `Client.call_tool` then waits for the task."""

    identifier = EXTENSION_ID

    def __init__(self) -> None:
        self.polled: list[GetTaskResult] = []
        self.polling = anyio.Event()  # set once a call has turned into a task

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreateTaskResult, resolve=self._resolve)]

    async def _resolve(self, task: CreateTaskResult, ctx: ClaimContext) -> CallToolResult:
        while True:
            current = await get_task(ctx.session, task.task_id)
            self.polled.append(current)
            self.polling.set()
            if current.status == "completed":
                assert current.result is not None
                return CallToolResult.model_validate(current.result)
            if current.status in ("cancelled", "failed"):
                text = current.status_message or current.status
                return CallToolResult(content=[TextContent(type="text", text=text)],
                                      is_error=True)
            await anyio.sleep((current.poll_interval_ms or 1000) / 1000)


async def call_for_task(client: Client, tool: str, arguments: dict[str, Any]
                        ) -> CreateTaskResult | CallToolResult:
    """tools/call, the task handle returned as is instead of waited for."""
    result = await client.session.call_tool(tool, arguments, allow_claimed=True)
    assert isinstance(result, CreateTaskResult | CallToolResult), result
    return result


async def get_task(session: ClientSession, task_id: str) -> GetTaskResult:
    return await session.send_request(
        GetTaskRequest(params=TaskParams(task_id=task_id)), GetTaskResult)


async def cancel_task(session: ClientSession, task_id: str) -> TaskAck:
    return await session.send_request(
        CancelTaskRequest(params=TaskParams(task_id=task_id)), TaskAck)


async def update_task(session: ClientSession, task_id: str, responses: InputResponses
                      ) -> TaskAck:
    return await session.send_request(UpdateTaskRequest(
        params=UpdateTaskParams(task_id=task_id, input_responses=responses)), TaskAck)
