"""MCP Tasks for proposals that wait, with the real SDK client in-process
(`mcp.Client(server)`) and the extension declared through the client's own
hooks (`tests/mcp/task_client.py`): a task instead of a receipt, tasks/get
through every outcome, tasks/cancel by whom it may concern, tenants kept
apart, a restart in between. stdio: test_tasks_stdio.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    MISSING_REQUIRED_CLIENT_CAPABILITY,
    CallToolResult,
)

from signoff.server.app import App, Settings, build_app
from signoff.server.clock import FixedClock
from signoff.server.mcp.identity import FixedIdentity
from signoff.server.mcp.server import SignoffServer, build_server
from signoff.server.mcp.task_wire import CreateTaskResult
from signoff.store.records import ProposalRecord
from tests.core.helpers import table_counts
from tests.mcp.task_client import TasksClient, call_for_task, cancel_task, get_task
from tests.review.test_confirmation import POLICY

pytestmark = pytest.mark.anyio
POLL_MS = 250
ESCALATION = {"case_id": "case-acme-001", "expected_version": 4, "confidence": 0.8,
              "evidence_refs": ["ev-acme-001-a"], "rationale": "the fee schedule"}
RISK = {"case_id": "case-acme-001", "expected_version": 4, "confidence": 0.6,
        "risk_level": "high", "evidence_refs": ["ev-acme-001-a"]}


async def opened(db: Path, clock: FixedClock, **settings: Any) -> App:
    """The app on `db` (random ids, as in production, so reopening is safe)."""
    app = await build_app(Settings(db=db, clock=clock, **settings))
    await app.seed_if_empty()
    return app


@pytest.fixture
async def app(tmp_path: Path, clock: FixedClock) -> AsyncIterator[App]:
    built = await opened(tmp_path / "tasks.db", clock)
    try:
        yield built
    finally:
        await built.close()


def server(app: App, principal_id: str = "agent:triage", tenant: str = "acme") -> SignoffServer:
    record = app.principals.get(principal_id)
    assert record is not None
    return build_server(app, FixedIdentity(record.facts(tenant)), task_poll_ms=POLL_MS)


async def stored(app: App, proposal_id: str) -> ProposalRecord:
    found = await app.store.read(lambda uow: uow.proposals.get(proposal_id, None))
    assert found is not None
    return found


async def propose_for_task(app: App, tool: str = "propose_case_escalation",
                           arguments: dict[str, Any] = ESCALATION) -> CreateTaskResult:
    mcp = server(app)
    async with mcp.running(), Client(mcp, extensions=[TasksClient()]) as client:
        task = await call_for_task(client, tool, arguments)
    assert isinstance(task, CreateTaskResult), task
    return task


async def task_as(app: App, task_id: str, principal_id: str = "agent:triage",
                  tenant: str = "acme") -> Any:
    mcp = server(app, principal_id, tenant)
    async with mcp.running(), Client(mcp, extensions=[TasksClient()]) as client:
        return await get_task(client.session, task_id)


async def cancel_as(app: App, task_id: str, principal_id: str = "agent:triage") -> None:
    mcp = server(app, principal_id)
    async with mcp.running(), Client(mcp, extensions=[TasksClient()]) as client:
        await cancel_task(client.session, task_id)


def receipt_of(task: Any) -> dict[str, Any]:
    result = CallToolResult.model_validate(task.result)
    assert result.structured_content is not None
    return dict(result.structured_content)


async def test_a_waiting_proposal_answers_with_a_task(app: App, clock: FixedClock) -> None:
    task = await propose_for_task(app)
    proposal = await stored(app, task.task_id)  # the task id is the proposal id
    assert proposal.status == "pending_approval"
    assert (task.status, task.ttl_ms, task.poll_interval_ms) == ("working", 86_400_000, POLL_MS)
    assert task.created_at == clock.now.isoformat().replace("+00:00", "Z")
    assert task.status_message is not None
    assert task.status_message.startswith("waiting for 1 more approval from supervisor")
    got = await task_as(app, task.task_id)
    assert (got.status, got.status_message, got.result) == ("working", task.status_message, None)


async def test_without_the_extension_the_receipt_is_as_before(app: App) -> None:
    mcp = server(app)
    async with mcp.running():
        for client in (Client(mcp), Client(mcp, mode="legacy", extensions=[TasksClient()])):
            async with client:
                result = await client.call_tool("propose_case_escalation", ESCALATION)
                assert isinstance(result, CallToolResult)
                assert result.structured_content is not None
                assert result.structured_content["status"] == "pending_approval"
        async with Client(mcp) as plain:
            with pytest.raises(MCPError) as refused:
                await get_task(plain.session, str(result.structured_content["proposal_id"]))
    assert refused.value.code == MISSING_REQUIRED_CLIENT_CAPABILITY
    async with mcp.running(), Client(mcp, mode="legacy", extensions=[TasksClient()]) as old:
        with pytest.raises(MCPError) as absent:  # tasks are 2026-07-28 vocabulary
            await get_task(old.session, str(result.structured_content["proposal_id"]))
    assert absent.value.code == METHOD_NOT_FOUND


async def test_a_proposal_that_runs_at_once_keeps_its_receipt(app: App) -> None:
    mcp = server(app)
    async with mcp.running(), Client(mcp, extensions=[TasksClient()]) as client:
        result = await call_for_task(client, "create_analyst_brief", {
            "case_id": "case-acme-001", "summary": "a note", "confidence": 0.9})
    assert isinstance(result, CallToolResult)
    assert result.structured_content is not None
    assert result.structured_content["status"] == "executed"


async def test_after_approval_the_task_completes_with_the_receipt(app: App) -> None:
    task = await propose_for_task(app)
    alice = app.principals.get("user:alice")
    assert alice is not None
    await app.approvals.approve(alice.facts("acme"), task.task_id, digest=None, channel="cli")
    got = await task_as(app, task.task_id)
    assert got.status == "completed"
    assert got.result["isError"] is False
    receipt = receipt_of(got)
    assert (receipt["proposal_id"], receipt["status"]) == (task.task_id, "executed")
    assert receipt["events"]


async def test_after_rejection_the_task_completes_with_an_error_result(app: App) -> None:
    task = await propose_for_task(app)
    alice = app.principals.get("user:alice")
    assert alice is not None
    await app.approvals.reject(alice.facts("acme"), task.task_id, reason="no evidence",
                               digest=None, channel="cli")
    got = await task_as(app, task.task_id)
    assert (got.status, got.result["isError"]) == ("completed", True)
    assert receipt_of(got)["status"] == "rejected"
    assert "no evidence" in receipt_of(got)["reason"]


async def test_after_expiry_the_task_completes_with_an_error_result(
    app: App, clock: FixedClock
) -> None:
    task = await propose_for_task(app)
    clock.advance(timedelta(hours=25))
    waiting = await task_as(app, task.task_id)  # past the deadline, not swept yet
    assert waiting.status == "working"
    assert "deadline passed" in waiting.status_message
    await app.approvals.expire_due()
    got = await task_as(app, task.task_id)
    assert (got.status, got.result["isError"]) == ("completed", True)
    assert receipt_of(got)["status"] == "expired"


async def test_cancel_by_the_proposer_before_a_vote_withdraws_it(app: App) -> None:
    task = await propose_for_task(app)
    await cancel_as(app, task.task_id)
    got = await task_as(app, task.task_id)
    assert got.status == "cancelled"
    assert got.status_message == "withdrawn by agent:triage: cancelled as a task (tasks/cancel)"
    proposal = await stored(app, task.task_id)
    assert proposal.status == "withdrawn"
    trail = await app.store.read(lambda uow: uow.proposals.events(task.task_id))
    assert (trail[-1].event_type, trail[-1].actor_id) == ("proposal.withdrawn", "agent:triage")


async def test_cancel_after_an_approval_leaves_the_task_as_it_is(
    tmp_path: Path, clock: FixedClock
) -> None:
    app = await opened(tmp_path / "two.db", clock, policy=POLICY)  # two approvers
    try:
        task = await propose_for_task(app, "propose_risk_update", RISK)
        alice = app.principals.get("user:alice")
        assert alice is not None
        vote = await app.approvals.approve(alice.facts("acme"), task.task_id, digest=None,
                                           channel="cli")
        assert vote.proposal.status == "pending_approval"
        before = table_counts(tmp_path / "two.db")
        await cancel_as(app, task.task_id)
        got = await task_as(app, task.task_id)
        assert got.status == "working"
        assert "analyst" in got.status_message
        assert (await stored(app, task.task_id)).status == "pending_approval"
        assert table_counts(tmp_path / "two.db") == before
    finally:
        await app.close()


async def test_cancel_by_another_principal_leaves_the_task_as_it_is(
    app: App, tmp_path: Path
) -> None:
    task = await propose_for_task(app)
    before = table_counts(tmp_path / "tasks.db")
    await cancel_as(app, task.task_id, "user:carol")
    assert (await task_as(app, task.task_id, "user:carol")).status == "working"
    assert (await stored(app, task.task_id)).status == "pending_approval"
    assert table_counts(tmp_path / "tasks.db") == before


async def test_another_tenants_task_id_is_not_found(app: App, tmp_path: Path) -> None:
    task = await propose_for_task(app)
    before = table_counts(tmp_path / "tasks.db")
    mcp = server(app, "agent:triage", "globex")  # the same agent, for another tenant
    async with mcp.running(), Client(mcp, extensions=[TasksClient()]) as client:
        for request in (get_task, cancel_task):
            with pytest.raises(MCPError) as missing:
                await request(client.session, task.task_id)
            assert missing.value.code == INVALID_PARAMS
            assert "Task not found" in missing.value.error.message
    assert (await stored(app, task.task_id)).status == "pending_approval"
    assert table_counts(tmp_path / "tasks.db") == before


async def test_the_task_survives_a_server_restart(tmp_path: Path, clock: FixedClock) -> None:
    db = tmp_path / "restart.db"
    first = await opened(db, clock)
    try:
        task = await propose_for_task(first)
    finally:
        await first.close()
    second = await opened(db, clock)  # a new process: new server, new app, same file
    try:
        assert (await task_as(second, task.task_id)).status == "working"
        alice = second.principals.get("user:alice")
        assert alice is not None
        await second.approvals.approve(alice.facts("acme"), task.task_id, digest=None,
                                       channel="cli")
        assert receipt_of(await task_as(second, task.task_id))["status"] == "executed"
    finally:
        await second.close()
