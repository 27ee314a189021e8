"""The requester's confirmation as a task's input (`input_required`, answered
with tasks/update), and a client that simply waits for the task
(`Client.call_tool` with the claim's resolver polling tasks/get)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp_types import ElicitRequest, ElicitResult

from signoff.server.app import App
from signoff.server.clock import FixedClock
from signoff.server.mcp.task_status import CONFIRM_KEY
from signoff.server.mcp.task_wire import CreateTaskResult
from tests.mcp.task_client import TasksClient, call_for_task, get_task, update_task
from tests.mcp.test_tasks import ESCALATION, opened, receipt_of, server
from tests.review.test_confirmation import POLICY, Requester, votes

pytestmark = pytest.mark.anyio
CLOSURE = {"case_id": "case-acme-001", "expected_version": 4, "confidence": 0.9,
           "rationale": "refunded", "evidence_refs": ["ev-acme-001-a"]}


@pytest.fixture
async def app(tmp_path: Path, clock: FixedClock) -> AsyncIterator[App]:
    built = await opened(tmp_path / "confirm.db", clock, policy=POLICY)
    try:
        yield built
    finally:
        await built.close()


@pytest.mark.parametrize(("answer", "status", "cast"), [
    (ElicitResult(action="accept", content={"confirm": True}), "completed",
     [("user:carol", "approve", "elicitation")]),
    (ElicitResult(action="accept", content={"confirm": False}), "working", []),
    (ElicitResult(action="decline"), "working", []),
])
async def test_the_requester_confirms_through_the_task(
    app: App, answer: ElicitResult, status: str, cast: list[tuple[str, str, str]]
) -> None:
    requester = Requester()  # the client can show forms; the task asks, not the call
    mcp = server(app, "user:carol")
    async with mcp.running(), Client(mcp, extensions=[TasksClient()],
                                     elicitation_callback=requester) as client:
        task = await call_for_task(client, "propose_case_closure", CLOSURE)
        assert isinstance(task, CreateTaskResult), task
        assert task.status == "input_required"
        asked = await get_task(client.session, task.task_id)
        assert asked.status == "input_required"
        assert asked.input_requests is not None
        question = asked.input_requests[CONFIRM_KEY]
        assert isinstance(question, ElicitRequest)
        assert "Confirm your proposal" in question.params.message
        await update_task(client.session, task.task_id, {CONFIRM_KEY: answer})
        after = await get_task(client.session, task.task_id)
        assert after.status == status
        assert after.input_requests is None  # asked once: any answer settles it
    assert requester.asked == []
    assert await votes(app, task.task_id) == cast
    if status == "completed":
        assert receipt_of(after)["status"] == "executed"


async def test_answers_to_anything_else_are_ignored(app: App) -> None:
    mcp = server(app, "user:carol")
    async with mcp.running(), Client(mcp, extensions=[TasksClient()],
                                     elicitation_callback=Requester()) as client:
        task = await call_for_task(client, "propose_case_closure", CLOSURE)
        assert isinstance(task, CreateTaskResult)
        await update_task(client.session, task.task_id, {
            "another-key": ElicitResult(action="accept", content={"confirm": True})})
        assert (await get_task(client.session, task.task_id)).status == "input_required"
    assert await votes(app, task.task_id) == []


async def test_a_client_that_cannot_show_forms_gets_a_working_task(app: App) -> None:
    mcp = server(app, "user:carol")
    async with mcp.running(), Client(mcp, extensions=[TasksClient()]) as client:
        task = await call_for_task(client, "propose_case_closure", CLOSURE)
        assert isinstance(task, CreateTaskResult)
        assert task.status == "working"
        assert (await get_task(client.session, task.task_id)).input_requests is None


async def test_call_tool_waits_for_the_task_and_returns_the_receipt(app: App) -> None:
    tasks = TasksClient()
    mcp = server(app)
    result = None

    async def call() -> None:
        nonlocal result
        async with Client(mcp, extensions=[tasks]) as client:
            result = await client.call_tool("propose_case_escalation", ESCALATION)

    async with mcp.running(), anyio.create_task_group() as group:
        group.start_soon(call)
        await tasks.polling.wait()  # the call is a task now, being polled
        alice = app.principals.get("user:alice")
        assert alice is not None
        await app.approvals.approve(alice.facts("acme"), tasks.polled[0].task_id, digest=None,
                                    channel="cli")
    assert result is not None
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["status"] == "executed"
    assert tasks.polled[0].status == "working"
