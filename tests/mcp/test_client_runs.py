"""A real client that sends no run id, as MCP Inspector or Claude Desktop
(issue 10, item 14): its calls still form a run (its stdio connection, its
HTTP session, its traceparent, or its principal within a window of the
clock on stateless HTTP), the
proposal service receives that run, and `signoff trace` of its proposal shows
the calls that led to it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import anyio
import pytest
from mcp import Client
from mcp.shared import jsonrpc_dispatcher
from mcp_types import RequestParamsMeta

from signoff.server.mcp.runs import RUN_WINDOW
from signoff.server.ops.trace import Trace, trace_of
from signoff.store.records import ProposalRecord, RuntimeEntry
from tests.mcp.conftest import open_app, seed, stdio_session
from tests.mcp.http_server import HttpServer, http_server

pytestmark = pytest.mark.anyio
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = cast(RequestParamsMeta, {"traceparent": f"00-{TRACE_ID}-b7ad6b7169203331-01"})
ESCALATION = {"case_id": "case-acme-001", "expected_version": 4, "confidence": 0.8,
              "evidence_refs": ["ev-acme-001-a"], "rationale": "high risk"}


@pytest.fixture(autouse=True)
def no_trace_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client sends no trace context of its own, as MCP Inspector does
    (the Python SDK's client injects one whenever an OpenTelemetry SDK is
    installed in the process, as other test modules do)."""
    monkeypatch.setattr(jsonrpc_dispatcher, "inject_trace_context", lambda meta: None)


async def agent_session(client: Client, meta: RequestParamsMeta | None = None) -> str:
    """Read, then propose: what the trace must show, in that order."""
    assert not (await client.call_tool("list_cases", {}, meta=meta)).is_error
    assert not (await client.call_tool("get_case_summary", {"case_id": "case-acme-001"},
                                       meta=meta)).is_error
    receipt = await client.call_tool("propose_case_escalation", ESCALATION, meta=meta)
    assert receipt.structured_content is not None, receipt
    return str(receipt.structured_content["proposal_id"])


async def recorded(db: Path | str, proposal_id: str) -> tuple[ProposalRecord, list[RuntimeEntry],
                                                         Trace]:
    async with open_app(db) as app:
        proposal = await app.store.read(lambda uow: uow.proposals.get(proposal_id, None))
        assert proposal is not None
        assert proposal.run_id is not None
        run_id = proposal.run_id
        calls = await app.store.read(lambda uow: uow.runtime.find(run_id=run_id))
        trace = await trace_of(app, proposal_id)
    assert trace is not None
    return proposal, calls, trace


def assert_trace_shows_the_calls_before_the_proposal(trace: Trace) -> None:
    order = [s.label for s in trace.steps]
    tools = [s for s in trace.steps if s.kind == "tool_call"]
    assert [s.label for s in tools] == ["query tool list_cases -> ok",
                                        "query tool get_case_summary -> ok",
                                        "command tool propose_case_escalation -> requires_approval"]
    proposal = next(s for s in trace.steps if s.kind == "proposal")
    assert all(order.index(s.label) < order.index(proposal.label) for s in tools)
    assert proposal.caused_by == [tools[-1].step_id]


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_a_stdio_connection_is_one_run(db: Path, mode: str) -> None:
    async with stdio_session(db, mode=mode) as client:
        proposal_id = await agent_session(client)
    async with stdio_session(db, mode=mode) as client:
        other = await agent_session(client)
    proposal, calls, trace = await recorded(db, proposal_id)
    later, _, _ = await recorded(db, other)
    assert [c.run_source for c in calls] == ["connection"] * 3
    assert [c.tool for c in calls] == ["list_cases", "get_case_summary",
                                       "propose_case_escalation"]
    assert later.run_id != proposal.run_id  # another connection, another run
    assert_trace_shows_the_calls_before_the_proposal(trace)
    assert trace.steps[0].details["run_source"] == "connection"


async def test_a_traceparent_is_the_run_across_connections(db: Path) -> None:
    async with stdio_session(db) as client:
        first = await agent_session(client, TRACEPARENT)
    async with stdio_session(db, mode="2026-07-28") as client:
        assert not (await client.call_tool("list_cases", {}, meta=TRACEPARENT)).is_error
    proposal, calls, trace = await recorded(db, first)
    assert proposal.run_id == f"trace:{TRACE_ID}"
    assert [c.run_source for c in calls] == ["traceparent"] * 4
    assert len([s for s in trace.steps if s.kind == "tool_call"]) == 4


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[HttpServer]:
    db = tmp_path / "signoff.db"
    anyio.run(seed, db)
    with http_server(db, tmp_path, "--http-sessions", request.param) as running:
        yield running


# A 2026-07-28 request never has a session, whatever the server keeps.
@pytest.mark.parametrize(("server", "mode", "source"), [
    ("stateful", "legacy", "session"),
    ("stateless", "legacy", "time_window"),
    ("stateless", "2026-07-28", "time_window"),
], indirect=["server"])
async def test_over_http_a_session_or_else_the_principal_is_the_run(
        server: HttpServer, mode: str, source: str) -> None:
    await away_from_a_window_edge()
    async with server.client("acme-agent-token", mode) as client:
        proposal_id = await agent_session(client)
    _, calls, trace = await _settled(server.db, proposal_id)
    assert [c.run_source for c in calls] == [source] * 3
    assert_trace_shows_the_calls_before_the_proposal(trace)


async def away_from_a_window_edge(margin: float = 10.0) -> None:
    """Wait out the end of a run window if it is less than `margin` seconds
    away, so that a few calls made now fall in one window."""
    left = RUN_WINDOW.total_seconds() - time.time() % RUN_WINDOW.total_seconds()
    if left < margin:
        await anyio.sleep(left + 0.1)


async def _settled(db: Path | str, proposal_id: str) -> tuple[ProposalRecord, list[RuntimeEntry],
                                                         Trace]:
    """The runtime log of another process, once it holds the proposing call."""
    for _ in range(200):
        proposal, calls, trace = await recorded(db, proposal_id)
        if any(c.proposal_id == proposal_id for c in calls):
            return proposal, calls, trace
        await anyio.sleep(0.05)
    raise AssertionError("the proposing call never reached the runtime log")

