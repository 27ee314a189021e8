"""Scale-out: three `signoff serve --transport http` processes and two
`signoff relay` processes on one PostgreSQL database, 32 real MCP clients
whose successive requests go to different processes (a round-robin
balancer), drafting notices, asking legal to approve them, sending the
approved ones and writing briefs for a bounded time while a reviewer
approves; one serve process is killed -9 mid-run and restarted. Afterwards:
every receipt's proposal exists once, every approved proposal was executed
once, every sent notice was delivered once, and `audit verify` passes."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import anyio
import httpx2
import psycopg
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from signoff.server.app import App, Settings, build_app
from tests.conftest import principal
from tests.store.postgres import scratch_schema

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "scale-out-agent-token"
CLIENTS = 32
SECONDS = float(os.environ.get("SIGNOFF_SCALE_OUT_SECONDS", "20"))
CASES = ["case-acme-001", "case-acme-002", "case-acme-003"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RoundRobin(httpx2.AsyncBaseTransport):
    """Each request to the next process, as a balancer sends them; a process
    that refuses the connection (killed) is passed over, as a balancer's
    health check would. A request that reached a process and got no answer
    is the client's to retry: it cannot know whether it was recorded."""

    def __init__(self, ports: list[int]) -> None:
        self._ports = ports
        self._next = count()
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        for _ in range(len(self._ports) * 2):
            port = self._ports[next(self._next) % len(self._ports)]
            request.url = request.url.copy_with(port=port)
            try:
                return await self._inner.handle_async_request(request)
            except httpx2.ConnectError:
                await anyio.sleep(0.05)
        raise httpx2.ConnectError("no process accepted the connection")

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass
class Cluster:
    url: str
    folder: Path
    ports: list[int]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def _start(self, name: str, args: list[str]) -> None:
        env = {**os.environ, "SIGNOFF_DB": self.url}
        with (self.folder / f"{name}.log").open("ab") as log:  # the child keeps its copy
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "signoff.server.cli", *args], cwd=self.folder, env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}"
                         for p in sorted(self.folder.glob("*.log")))

    def serve(self, n: int, *, demo: bool = False) -> None:
        self._start(f"serve-{n}", ["serve", "--transport", "http", "--port",
                                   str(self.ports[n]), "--tokens", "tokens.toml",
                                   "--policy", "policy.toml", *(["--demo"] if demo else [])])

    def relay(self, n: int) -> None:
        self._start(f"relay-{n}", ["relay", "--owner", f"relay-{n}", "--policy", "policy.toml"])

    def kill(self, name: str) -> int:
        self.processes[name].send_signal(signal.SIGKILL)
        return self.processes[name].wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


async def wait_for(port: int) -> None:
    with anyio.fail_after(60):
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                await anyio.sleep(0.1)


@pytest.fixture
def url() -> Iterator[str]:
    with scratch_schema() as scratch:
        yield scratch


@pytest.fixture
async def cluster(url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    (tmp_path / "tokens.toml").write_text(
        f'[[token]]\nsha256 = "{digest}"\nprincipal = "agent:triage"\ntenant = "acme"\n')
    # The demo policy, with limits no honest load of this size reaches.
    policy = (ROOT / "examples" / "casework" / "policy.toml").read_text()
    (tmp_path / "policy.toml").write_text(
        policy.replace("proposals_per_run = 50", "proposals_per_run = 1000000")
        .replace("per_agent_per_hour = 500", "per_agent_per_hour = 1000000"))
    running = Cluster(url, tmp_path, [free_port() for _ in range(3)])
    try:
        running.serve(0, demo=True)  # seeds the empty store, then the others join
        await wait_for(running.ports[0])
        for n in (1, 2):
            running.serve(n)
        for n in (1, 2):
            running.relay(n)
        for port in running.ports[1:]:
            await wait_for(port)
        yield running
    finally:
        running.stop()


@dataclass
class Ledger:
    """What the clients were told."""

    receipts: list[dict[str, Any]] = field(default_factory=list)
    approvals: dict[str, str] = field(default_factory=dict)  # draft id -> approval proposal
    sent: set[str] = field(default_factory=set)
    retried: int = 0


class Agent:
    def __init__(self, number: int, ports: list[int], ledger: Ledger) -> None:
        self.number, self.ports, self.ledger = number, ports, ledger
        self.keys = count()

    @asynccontextmanager
    async def client(self) -> AsyncIterator[Client]:
        base = f"http://127.0.0.1:{self.ports[self.number % 3]}/mcp"
        async with (
            httpx2.AsyncClient(transport=RoundRobin(self.ports), timeout=60,
                               headers={"Authorization": f"Bearer {TOKEN}"}) as http,
            Client(streamable_http_client(base, http_client=http)) as session,
        ):
            yield session

    async def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """The tool's result; a command that got no answer is sent again with
        the same idempotency key, to any process (a query just again)."""
        if tool != "get_proposal":
            arguments = {**arguments, "idempotency_key": f"a{self.number}-{next(self.keys)}"}
        for attempt in range(5):
            try:
                async with self.client() as session:
                    result = await session.call_tool(tool, arguments)
                receipt = dict(result.structured_content or {})
                if tool != "get_proposal":
                    self.ledger.receipts.append(receipt)
                return receipt
            except Exception:  # the process died under the call, or refused it
                self.ledger.retried += 1
                await anyio.sleep(0.2 * (attempt + 1))
        raise AssertionError(f"{tool} got no answer from any process")

    async def run(self, until: float) -> None:
        mine: list[str] = []
        n = 0
        while time.monotonic() < until:
            n += 1
            case = CASES[(self.number + n) % len(CASES)]
            if n % 3 == 0:
                brief = await self.call("create_analyst_brief", {
                    "case_id": case, "summary": f"brief {self.number}/{n}", "confidence": 0.9})
                assert brief["outcome"] in {"accepted", "duplicate_accepted"}, brief
                continue
            draft = await self.call("create_notice_draft", {
                "case_id": case, "body": f"Notice {self.number}/{n}.", "confidence": 0.9})
            assert draft["outcome"] in {"accepted", "duplicate_accepted"}, draft
            draft_id = str(draft["aggregate_id"])
            asked = await self.call("request_notice_approval", {
                "draft_id": draft_id, "expected_version": 1, "confidence": 0.9})
            assert asked["status"] == "pending_approval", asked
            self.ledger.approvals[draft_id] = str(asked["proposal_id"])
            mine.append(draft_id)
            await self.send_approved(mine)
        await self.send_approved(mine, wait=True)

    async def send_approved(self, drafts: list[str], *, wait: bool = False) -> None:
        deadline = time.monotonic() + (60 if wait else 0)
        while drafts:
            for draft_id in list(drafts):
                got = await self.call("get_proposal", {
                    "proposal_id": self.ledger.approvals[draft_id]})
                if got.get("status") != "executed":
                    continue
                sent = await self.call("send_approved_notice", {
                    "draft_id": draft_id, "expected_version": 2, "confidence": 0.9})
                assert sent["status"] == "executed", sent
                self.ledger.sent.add(draft_id)
                drafts.remove(draft_id)
            if not wait or time.monotonic() > deadline:
                return
            await anyio.sleep(0.5)


async def review(app: App, until: float) -> None:
    """Legal approves every notice that waits (another process on the database)."""
    bob = principal(app, "user:bob")
    while time.monotonic() < until:
        waiting = await app.store.read(lambda uow: uow.proposals.find(
            tenant_id="acme", status="pending_approval", command_type="notice.approve",
            limit=500))
        for proposal in waiting:
            await app.approvals.approve(bob, proposal.proposal_id, digest=None, channel="cli",
                                        comment="fine")
        await anyio.sleep(0.2)


def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query).fetchall()


async def test_three_processes_and_two_relays_lose_and_duplicate_nothing(
    cluster: Cluster, url: str
) -> None:
    ledger = Ledger()
    reviewer = await build_app(Settings(db=url, policy=cluster.folder / "policy.toml"))
    start = time.monotonic()
    until = start + SECONDS
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(review, reviewer, until + 90)
            async with anyio.create_task_group() as agents:
                for n in range(CLIENTS):
                    agents.start_soon(Agent(n, cluster.ports, ledger).run, until)
                await anyio.sleep(SECONDS / 2)
                killed = cluster.kill("serve-1")  # mid-run, with calls in flight
                await anyio.sleep(1)
                cluster.serve(1)
            tasks.cancel_scope.cancel()
    finally:
        await reviewer.close()

    # Let the relays deliver what was sent.
    for _ in range(240):
        if rows(url, "SELECT count(*) FROM outbox WHERE topic = 'notice.sent' "
                     "AND status <> 'published'") == [(0,)]:
            break
        await anyio.sleep(0.5)

    assert killed == -signal.SIGKILL
    receipts = [r for r in ledger.receipts if r.get("proposal_id")]
    stored = Counter(p for (p,) in rows(url, "SELECT proposal_id FROM proposals"))
    assert receipts, "the clients made proposals"
    assert all(stored[r["proposal_id"]] == 1 for r in receipts)
    keys = rows(url, "SELECT actor_id, idempotency_key, count(*) FROM proposals "
                     "WHERE idempotency_key IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1")
    assert keys == []

    assert rows(url, "SELECT count(*) FROM proposals WHERE status = 'approved'") == [(0,)]
    executed = rows(url, "SELECT proposal_id, doc FROM proposals WHERE status = 'executed'")
    named = Counter(e for _, doc in executed for e in json.loads(doc)["event_ids"])
    assert set(named.values()) == {1}  # no event claimed by two executions
    approved = Counter(a for (a,) in rows(
        url, "SELECT aggregate_id FROM events WHERE event_type = 'notice.approved'"))
    assert set(approved.values()) == {1}, "every approved notice approved once"

    sent = {m for (m,) in rows(url, "SELECT message_id FROM outbox WHERE topic = 'notice.sent'")}
    assert len(sent) == len(ledger.sent) > 0, rows(
        url, "SELECT command_type, status, count(*) FROM proposals GROUP BY 1, 2")
    lines = [json.loads(line)["message_id"]
             for line in (cluster.folder / "notices.jsonl").read_text().splitlines()]
    assert Counter(lines) == Counter(dict.fromkeys(sent, 1)), "each sent notice delivered once"
    delivered = Counter(a for (a,) in rows(
        url, "SELECT aggregate_id FROM events WHERE event_type = 'notice.delivered'"))
    assert len(delivered) == len(sent)
    assert set(delivered.values()) == {1}

    verified = await anyio.run_process(
        [sys.executable, "-m", "signoff.server.cli", "audit", "verify", "--db", url, "--json"],
        cwd=ROOT, check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["ok"] is True
