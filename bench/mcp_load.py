"""HTTP load rounds for bench_mcp: signoff and the bare server, each in its
own process on streamable HTTP, driven by the same number of real clients.

Each side gets its pool of clients, connected once (sessions initialised)
and kept for every round, so session setup weighs on neither side. A round
releases one pool's clients together; only calls that finish inside the
timed window count (the ones that finish after it are still checked).
"""

from __future__ import annotations

import hashlib
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from benchlib import bench_policy, draft
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from quiet import Quiet

HERE = Path(__file__).resolve().parent
TOKEN = "bench-acme-token"
TOOL = "create_notice_draft"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_for_port(port: int) -> None:
    for _ in range(1200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            await anyio.sleep(0.05)
    raise SystemExit(f"no server came up on port {port}")


@dataclass
class Round:
    tag: str
    end: float
    clients: int
    latencies: list[float] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    late_receipts: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    finished: int = 0
    done: anyio.Event = field(default_factory=anyio.Event)


class Pool:
    """`clients` connected MCP clients on one server, waiting for rounds."""

    def __init__(self, url: str, clients: int) -> None:
        self.url, self.clients = url, clients
        self._inboxes: list[MemoryObjectSendStream[Round]] = []
        self._connected = 0
        self._ready = anyio.Event()

    async def start(self, tasks: TaskGroup) -> None:
        for number in range(self.clients):
            send, receive = anyio.create_memory_object_stream[Round](1)
            self._inboxes.append(send)
            tasks.start_soon(self._client, number, receive)
        await self._ready.wait()

    async def run(self, tag: str, seconds: float) -> Round:
        current = Round(tag, time.monotonic() + seconds, self.clients)
        for inbox in self._inboxes:
            await inbox.send(current)
        await current.done.wait()
        return current

    async def close(self) -> None:
        for inbox in self._inboxes:
            await inbox.aclose()

    async def _client(self, number: int, rounds: MemoryObjectReceiveStream[Round]) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with (httpx2.AsyncClient(headers=headers, timeout=120) as http,
                    Client(streamable_http_client(self.url, http_client=http)) as client,
                    rounds):
            self._connected += 1
            if self._connected == self.clients:
                self._ready.set()
            async for current in rounds:
                n = 0
                while time.monotonic() < current.end:
                    n += 1
                    started = time.perf_counter()
                    result = await client.call_tool(TOOL, draft(n, f"{current.tag}-c{number}"))
                    elapsed = time.perf_counter() - started
                    receipt = result.structured_content or {}
                    ok = receipt.get("outcome") == "accepted" and receipt.get("proposal_id")
                    if time.monotonic() > current.end:
                        if ok:
                            current.late_receipts.append(str(receipt["proposal_id"]))
                        break  # finished after the window: checked, not counted
                    current.latencies.append(elapsed)
                    if ok:
                        current.accepted.append(str(receipt["proposal_id"]))
                    else:
                        current.refusals.append(str(receipt.get("reason") or result.content))
                current.finished += 1
                if current.finished == current.clients:
                    current.done.set()


class Load:
    def __init__(self, folder: Path, clients: int, seconds: float) -> None:
        self.folder, self.clients, self.seconds = folder, clients, seconds
        self.db = folder / "http.db"
        self.quiet = Quiet(self.db)
        self.pools: dict[str, Pool] = {}
        self.receipts: list[str] = []  # every accepted receipt of signoff's, counted or not
        self.preexisting: set[str] = set()
        self.refusals: list[str] = []
        self.p50: dict[str, list[float]] = {"signoff": [], "bare": []}
        self.p99: dict[str, list[float]] = {"signoff": [], "bare": []}
        self.landed: list[int] = []
        self.rounds = 0

    @asynccontextmanager
    async def servers(self) -> AsyncIterator[Load]:
        tokens = self.folder / "tokens.toml"
        tokens.write_text(f'[[token]]\nsha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"'
                          '\nprincipal = "agent:triage"\ntenant = "acme"\n')
        ports = {"signoff": free_port(), "bare": free_port()}
        commands = {
            "signoff": [sys.executable, "-m", "signoff.server.cli", "serve", "--transport",
                        "http", "--port", str(ports["signoff"]), "--db", str(self.db), "--demo",
                        "--tokens", str(tokens), "--policy", str(bench_policy(self.folder))],
            "bare": [sys.executable, str(HERE / "bare_server.py"), "--port", str(ports["bare"])],
        }
        processes = []
        try:
            async with anyio.create_task_group() as tasks:
                for side, command in commands.items():
                    processes.append(await anyio.open_process(
                        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL))
                    await wait_for_port(ports[side])
                    self.pools[side] = Pool(f"http://127.0.0.1:{ports[side]}/mcp", self.clients)
                    await self.pools[side].start(tasks)
                self.preexisting = self._stored()
                for side in self.pools:  # warm-up, not counted
                    await self._round(side, min(self.seconds, 2.0), count=False)
                try:
                    yield self
                finally:
                    for pool in self.pools.values():
                        await pool.close()
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                with anyio.fail_after(60):
                    await process.wait()
            self.quiet.close()

    async def bare_round(self) -> float:
        before = self.quiet.mark()
        rate = await self._round("bare", self.seconds)
        self.landed.append(self.quiet.mark() - before)
        return rate

    async def signoff_round(self) -> float:
        return await self._round("signoff", self.seconds)

    async def _round(self, side: str, seconds: float, *, count: bool = True) -> float:
        self.rounds += 1
        done = await self.pools[side].run(f"r{self.rounds}", seconds)
        if side == "signoff":
            self.receipts += done.accepted + done.late_receipts
        self.refusals += [r[:200] for r in done.refusals]
        if count and done.latencies:
            ordered = sorted(done.latencies)
            self.p50[side].append(ordered[len(ordered) // 2] * 1000)
            self.p99[side].append(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
                                  * 1000)
        finished = len(done.accepted) if side == "signoff" else len(done.latencies)
        return finished / seconds

    def _stored(self) -> set[str]:
        with sqlite3.connect(self.db) as conn:
            stored = {row[0] for row in conn.execute("SELECT proposal_id FROM proposals")}
        conn.close()
        return stored

    def check(self) -> dict[str, Any]:
        """Every receipt's proposal stored once, nothing stored unreceipted."""
        stored = self._stored() - self.preexisting
        receipts = set(self.receipts)
        return {"receipts": len(self.receipts), "stored": len(stored),
                "lost": len(receipts - stored),
                "duplicated": len(self.receipts) - len(receipts),
                "unreceipted_in_db": len(stored - receipts),
                "refused": len(self.refusals), "refusals": sorted(set(self.refusals))[:3]}
