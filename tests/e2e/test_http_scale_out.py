"""Two `signoff serve --transport http` processes on one database are one
signoff behind a load balancer (issue 14): a real MCP client whose
successive HTTP requests alternate between the two processes (initialize on
one, the tool call on the other) proposes through one and reads through the
other, a reviewer's vote from a third process is seen by both, a requester's
confirmation asked by one is answered on the other, a task made by one is
followed and cancelled through both, and the calls of one client form one
run whichever process answered them. On a SQLite file, and
on PostgreSQL where one answers."""

from __future__ import annotations

import itertools
import json
import secrets
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared import jsonrpc_dispatcher

from signoff.server.app import Settings, build_app
from signoff.server.clock import FixedClock, SequentialIds
from signoff.server.mcp.runs import window_run
from signoff.server.mcp.task_wire import CreateTaskResult
from signoff.store.records import RuntimeEntry
from tests.mcp.conftest import open_app
from tests.mcp.http_server import CAROL_TOKEN, HttpServer, http_server
from tests.mcp.task_client import TasksClient, call_for_task, cancel_task, get_task
from tests.mcp.test_client_runs import away_from_a_window_edge
from tests.review.test_confirmation import Requester
from tests.store.postgres import scratch_schema

pytestmark = pytest.mark.anyio

AGENT_TOKEN = "acme-agent-token"
POLICY = (Path(__file__).parents[1] / "review" / "confirm_policy.toml").read_text()
ESCALATION = {"case_id": "case-acme-001", "expected_version": 4, "confidence": 0.8,
              "evidence_refs": ["ev-acme-001-a"], "rationale": "high risk"}


@pytest.fixture(autouse=True)
def no_trace_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client sends no traceparent (which would name the run itself)."""
    monkeypatch.setattr(jsonrpc_dispatcher, "inject_trace_context", lambda meta: None)


class Balancer(httpx2.AsyncBaseTransport):
    """A round-robin load balancer inside the client: each JSON-RPC request
    goes to the next process (a notification where the last request went),
    and what each was asked is noted."""

    def __init__(self, ports: Sequence[int]) -> None:
        self._ports = itertools.cycle(ports)
        self._port = ports[0]
        self._inner = httpx2.AsyncHTTPTransport()
        self.served: list[tuple[int, str]] = []

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method != "POST" or "id" in json.loads(request.content):
            self._port = next(self._ports)
        port = self._port
        request.url = request.url.copy_with(port=port)
        request.headers["host"] = f"127.0.0.1:{port}"
        self.served.append((port, _what(request)))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def port_of(self, what: str) -> list[int]:
        return [port for port, asked in self.served if asked == what]


def _what(request: httpx2.Request) -> str:
    """`initialize`, `tools/call <tool>` (`+state` when it answers a question), ..."""
    if request.method != "POST":
        return request.method
    body: dict[str, Any] = json.loads(request.content)
    params = body.get("params") or {}
    what = str(body.get("method"))
    if what == "tools/call":
        what += f" {params['name']}" + (" +state" if params.get("requestState") else "")
    return what


@dataclass(frozen=True)
class Pair:
    """Two serve processes on one database, and where to reach them."""

    db: Path | str
    a: HttpServer
    b: HttpServer
    policy: Path

    @property
    def ports(self) -> list[int]:
        return [int(httpx2.URL(s.url).port or 0) for s in (self.a, self.b)]

    @asynccontextmanager
    async def client(self, token: str, mode: str, **options: Any
                     ) -> AsyncIterator[tuple[Client, Balancer]]:
        balancer = Balancer(self.ports)
        async with (
            httpx2.AsyncClient(transport=balancer, timeout=30,
                               headers={"Authorization": f"Bearer {token}"}) as http,
            Client(streamable_http_client(self.a.url, http_client=http), mode=mode,
                   **options) as client,
        ):
            yield client, balancer


async def seed(db: Path | str) -> None:
    async with await build_app(Settings(db=db, clock=FixedClock(), ids=SequentialIds())) as app:
        assert await app.seed_if_empty() > 0


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Pair]:
    folder = tmp_path_factory.mktemp(f"scale-out-{request.param}")
    with ExitStack() as stack:
        db: Path | str = folder / "signoff.db"
        if request.param == "postgresql":
            db = stack.enter_context(scratch_schema())
        anyio.run(seed, db)
        # The key every process seals and opens request state with.
        env = {"SIGNOFF_REQUEST_STATE_KEY": secrets.token_hex(32)}
        a, b = folder / "a", folder / "b"
        a.mkdir()
        b.mkdir()
        first = stack.enter_context(http_server(db, a, policy=POLICY, env=env))
        second = stack.enter_context(http_server(db, b, policy=POLICY, env=env))
        yield Pair(db, first, second, a / "policy.toml")


async def receipt(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert result.structured_content is not None, result.content
    return dict(result.structured_content)


async def runtime_of(db: Path | str, run_id: str, count: int) -> list[RuntimeEntry]:
    """The run's calls once both processes flushed `count` of them."""
    async with open_app(db) as app:
        for _ in range(200):
            calls = await app.store.read(lambda uow: uow.runtime.find(run_id=run_id))
            if len(calls) >= count:
                return sorted(calls, key=lambda c: c.at)
            await anyio.sleep(0.05)
    raise AssertionError(f"the runtime log never held {count} calls of run {run_id}")


async def test_one_client_across_two_processes(pair: Pair) -> None:
    await away_from_a_window_edge()
    async with pair.client(AGENT_TOKEN, "legacy") as (client, balancer):
        assert not (await client.call_tool("list_cases", {})).is_error
        assert not (await client.call_tool("get_case_summary",
                                           {"case_id": "case-acme-001"})).is_error
        proposed = await receipt(client, "propose_case_escalation", ESCALATION)
        assert proposed["status"] == "pending_approval", proposed
        read = await receipt(client, "get_proposal", {"proposal_id": proposed["proposal_id"]})
    # Initialize on one process, every call after it on whichever came next.
    [opened] = balancer.port_of("initialize")
    assert balancer.port_of("tools/call list_cases") != [opened]
    assert balancer.port_of("tools/call propose_case_escalation") != \
        balancer.port_of("tools/call get_proposal")
    assert (read["proposal_id"], read["status"]) == (proposed["proposal_id"], "pending_approval")

    # One run for the client's calls, whichever process answered them.
    async with open_app(pair.db) as app:
        proposal = await app.store.read(
            lambda uow: uow.proposals.get(str(proposed["proposal_id"]), None))
    assert proposal is not None
    assert proposal.run_id is not None
    calls = await runtime_of(pair.db, proposal.run_id, 4)
    assert [c.tool for c in calls] == ["list_cases", "get_case_summary",
                                       "propose_case_escalation", "get_proposal"]
    assert {c.run_source for c in calls} == {"time_window"}
    assert proposal.run_id == window_run("acme", "agent:triage", calls[0].at)

    # A reviewer votes from a third process; both serve processes see it executed.
    approved = await anyio.run_process(
        [sys.executable, "-m", "signoff.server.cli", "review", "approve",
         str(proposed["proposal_id"]), "--as", "user:alice", "--db", str(pair.db),
         "--policy", str(pair.policy)], check=False)
    assert approved.returncode == 0, approved.stderr.decode()
    async with pair.client(AGENT_TOKEN, "2026-07-28") as (client, balancer):
        await client.list_tools()  # what the client checks results against, read first
        seen = [await receipt(client, "get_proposal", {"proposal_id": proposed["proposal_id"]})
                for _ in pair.ports]
    assert sorted(balancer.port_of("tools/call get_proposal")) == sorted(pair.ports), \
        balancer.served
    assert [r["status"] for r in seen] == ["executed", "executed"]


async def test_a_confirmation_asked_by_one_process_is_answered_on_the_other(
        pair: Pair) -> None:
    async with open_app(pair.db) as app:
        version = await app.store.read(
            lambda uow: uow.events.version("acme", "case", "case-acme-002"))
    requester = Requester()
    closure = {"case_id": "case-acme-002", "expected_version": version, "confidence": 0.9,
               "rationale": "refunded", "evidence_refs": ["ev-acme-002-a"]}
    async with pair.client(CAROL_TOKEN, "2026-07-28",
                           elicitation_callback=requester) as (client, balancer):
        closed = await receipt(client, "propose_case_closure", closure)
    assert len(requester.asked) == 1
    asked = balancer.port_of("tools/call propose_case_closure")
    answered = balancer.port_of("tools/call propose_case_closure +state")
    assert len(asked) == len(answered) == 1
    assert asked != answered
    assert closed["status"] == "executed", closed
    async with open_app(pair.db) as app:
        votes = await app.store.read(
            lambda uow: uow.proposals.votes(str(closed["proposal_id"])))
    assert [(v.voter_id, v.verdict, v.channel) for v in votes] == [
        ("user:carol", "approve", "elicitation")]


async def test_a_handshake_era_requester_is_not_asked_mid_call(pair: Pair) -> None:
    # Stateless HTTP cannot carry a server-to-client request in the middle of
    # a handshake-era call: the proposal waits for a reviewer, and says so.
    async with open_app(pair.db) as app:
        version = await app.store.read(
            lambda uow: uow.events.version("acme", "case", "case-acme-003"))
    requester = Requester()
    closure = {"case_id": "case-acme-003", "expected_version": version, "confidence": 0.9,
               "rationale": "resolved", "evidence_refs": ["ev-acme-002-b"]}
    async with pair.client(CAROL_TOKEN, "legacy",
                           elicitation_callback=requester) as (client, _):
        closed = await receipt(client, "propose_case_closure", closure)
        read = await receipt(client, "get_proposal", {"proposal_id": closed["proposal_id"]})
    assert requester.asked == []
    assert closed["status"] == read["status"] == "pending_approval"
    assert "serves HTTP statelessly" in str(closed["next"])
    assert "review queue" in str(closed["next"])


async def test_a_task_made_by_one_process_is_followed_through_both(pair: Pair) -> None:
    async with open_app(pair.db) as app:
        version = await app.store.read(
            lambda uow: uow.events.version("acme", "case", "case-acme-001"))
    risk = {"case_id": "case-acme-001", "expected_version": version, "confidence": 0.6,
            "risk_level": "critical", "evidence_refs": ["ev-acme-001-a"]}
    async with pair.client(AGENT_TOKEN, "2026-07-28",
                           extensions=[TasksClient()]) as (client, balancer):
        task = await call_for_task(client, "propose_risk_update", risk)
        assert isinstance(task, CreateTaskResult), task
        states = [(await get_task(client.session, task.task_id)).status for _ in pair.ports]
        await cancel_task(client.session, task.task_id)
        after = [(await get_task(client.session, task.task_id)).status for _ in pair.ports]
    assert states == ["working", "working"]
    assert after == ["cancelled", "cancelled"]
    assert sorted(balancer.port_of("tasks/get")) == sorted(pair.ports * 2)
