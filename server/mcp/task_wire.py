"""The wire shapes of the MCP Tasks extension (`io.modelcontextprotocol/tasks`).

The SDK (mcp 2.3) ships the extension machinery but no task types, so they
are written here after the extension's own schema: `schema/draft/schema.ts`
of modelcontextprotocol/ext-tasks at commit e434597 (2026-08-21), the
SEP-2663 design on the 2026-07-28 protocol. Field names are that draft's
(`ttlMs`, `pollIntervalMs`, `lastUpdatedAt`, `inputRequests`,
`inputResponses`); the models take the SDK's camelCase aliasing from
`mcp_types`. The request models serve both ends: the server validates
params with them, a client sends them through `ClientSession.send_request`.
"""

from __future__ import annotations

from typing import Any, Literal

from mcp_types import InputRequests, InputResponses, Request, RequestParams, Result
from pydantic import ConfigDict

EXTENSION_ID = "io.modelcontextprotocol/tasks"
TaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled"})


class Task(Result):
    """What every task carries (`Task`); `ttl_ms` None means unlimited."""

    model_config = ConfigDict(extra="allow")

    task_id: str
    status: TaskStatus
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None
    poll_interval_ms: int | None = None


class CreateTaskResult(Task):
    """The answer to `tools/call` in lieu of a `CallToolResult`."""

    result_type: Literal["task"] = "task"


class GetTaskResult(Task):
    """`tasks/get`: the task with its status's own field inlined
    (`DetailedTask`): inputRequests, result or error."""

    result_type: Literal["complete"] = "complete"
    input_requests: InputRequests | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class TaskParams(RequestParams):
    task_id: str


class UpdateTaskParams(TaskParams):
    input_responses: InputResponses


class GetTaskRequest(Request[TaskParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    name_param = "taskId"  # the spec's Mcp-Name header over streamable HTTP


class UpdateTaskRequest(Request[UpdateTaskParams, Literal["tasks/update"]]):
    method: Literal["tasks/update"] = "tasks/update"
    name_param = "taskId"


class CancelTaskRequest(Request[TaskParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    name_param = "taskId"


class TaskAck(Result):
    """The empty acknowledgement of `tasks/update` and `tasks/cancel`."""

    result_type: Literal["complete"] = "complete"


def wire(task: Task) -> dict[str, Any]:
    """A task as sent: absent fields left out, except `ttlMs`, whose null
    (unlimited) the schema requires."""
    data = task.model_dump(by_alias=True, mode="json", exclude_none=True)
    data["ttlMs"] = task.ttl_ms
    return data
