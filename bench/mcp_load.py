"""HTTP load rounds for bench_mcp: signoff and the bare server, each in its
own process on streamable HTTP, driven by the same number of real clients.

A round first connects every client (sessions initialised), then releases
them together; only the calls inside the timed window count, so session
setup weighs on neither side.
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
from pathlib import Path
from typing import Any

import anyio
import httpx2
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


class Load:
    def __init__(self, folder: Path, clients: int, seconds: float) -> None:
        self.folder, self.clients, self.seconds = folder, clients, seconds
        self.db = folder / "http.db"
        self.quiet = Quiet(self.db)
        self.urls: dict[str, str] = {}
        self.receipts: list[str] = []  # every accepted receipt, counted or not
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
            for side, command in commands.items():
                processes.append(await anyio.open_process(
                    command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL))
                await wait_for_port(ports[side])
                self.urls[side] = f"http://127.0.0.1:{ports[side]}/mcp"
            self.preexisting = self._stored()
            await self._round("signoff", min(self.seconds, 2.0), count=False)  # warm-up
            await self._round("bare", min(self.seconds, 2.0), count=False)
            yield self
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
        ready, go = anyio.Event(), anyio.Event()
        connected = 0
        latencies: list[float] = []
        accepted: list[str] = []
        window: dict[str, float] = {}

        async def one(number: int) -> None:
            nonlocal connected
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with (httpx2.AsyncClient(headers=headers, timeout=120) as http,
                        Client(streamable_http_client(self.urls[side],
                                                      http_client=http)) as client):
                connected += 1
                if connected == self.clients:
                    ready.set()
                await go.wait()
                n = 0
                while time.monotonic() < window["end"]:
                    n += 1
                    started = time.perf_counter()
                    result = await client.call_tool(TOOL, draft(n, f"r{self.rounds}-c{number}"))
                    elapsed = time.perf_counter() - started
                    receipt = result.structured_content or {}
                    ok = receipt.get("outcome") == "accepted" and receipt.get("proposal_id")
                    if side == "signoff" and ok:
                        self.receipts.append(str(receipt["proposal_id"]))
                    if time.monotonic() > window["end"]:
                        break  # finished after the window: checked, not counted
                    latencies.append(elapsed)
                    if ok:
                        accepted.append(str(receipt["proposal_id"]))
                    else:
                        self.refusals.append(str(receipt.get("reason") or result.content)[:200])

        async with anyio.create_task_group() as tasks:
            for number in range(self.clients):
                tasks.start_soon(one, number)
            await ready.wait()
            window["start"] = time.monotonic()
            window["end"] = window["start"] + seconds
            go.set()
        if count:
            ordered = sorted(latencies)
            self.p50[side].append(ordered[len(ordered) // 2] * 1000)
            self.p99[side].append(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
                                  * 1000)
        done = len(accepted) if side == "signoff" else len(latencies)
        return done / seconds

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
