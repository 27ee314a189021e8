"""What does signoff cost on the wire, against a bare MCP server?

    python bench/bench_mcp.py [--json] [--calls N] [--mode legacy|2026-07-28]
    python bench/bench_mcp.py --http-load [--seconds S] [--clients C] [--json]

Latency (default): `signoff serve` and a bare `MCPServer` with same-shaped
tools and no storage are each spawned as a subprocess and driven by a real
`mcp.Client` over stdio, in the same run. Medians of `--calls` sequential calls
after a warm-up, for get_case_summary (a query: one read snapshot) and an
auto-approved create_analyst_brief (a proposal recorded, judged, executed and
committed: one write transaction with fsync). Goals: query <= 1.25x the bare
call, executed command <= 2x. Every brief lands on the same case, whose event
stream grows by one per call; create_notice_draft (a new aggregate per call)
is measured too, to show the command path without that growth.

HTTP load (`--http-load`): `signoff serve --transport http` as a subprocess,
`--clients` concurrent MCP clients for `--seconds`, each submitting auto-approved
proposals (`--tool`, notice drafts by default) with unique idempotency keys.
Afterwards the database must hold exactly the proposals the receipts name -
none lost, none duplicated (exit 1 otherwise). Reports p50/p99 and throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from benchlib import bench_policy
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field
from rich.console import Console
from rich.table import Table

QUERY_GOAL, COMMAND_GOAL = 1.25, 2.0
HERE = Path(__file__).resolve()
SUMMARY = {"case_id": "case-acme-001"}
TOKEN = "bench-acme-token"


def brief(n: int, tag: str) -> dict[str, Any]:
    return {"case_id": "case-acme-001", "summary": f"Benchmark brief {n}.",
            "rationale": "measuring", "evidence_refs": ["ev-acme-001-a"], "confidence": 0.9,
            "idempotency_key": f"{tag}-{n}"}


def draft(n: int, tag: str) -> dict[str, Any]:
    return {"case_id": "case-acme-002", "body": f"Benchmark notice {n}.",
            "rationale": "measuring", "evidence_refs": ["ev-acme-002-a"], "confidence": 0.9,
            "idempotency_key": f"{tag}-{n}"}


# --- the bare baseline server: same tool shapes, constant answers, no storage ---------


class Summary(BaseModel):
    case_id: str
    status: str = "open"
    risk_level: str = "medium"
    assigned_team: str = "markets-conduct"
    evidence_count: int = 3
    last_updated_at: str = "2024-03-20"
    version: int = 4
    as_of_position: int = 23
    lag: int = 0
    source_refs: list[str] = Field(default_factory=list)


class Receipt(BaseModel):
    proposal_id: str
    status: str = "executed"
    outcome: str = "accepted"
    command_type: str = "brief.create"
    aggregate_id: str
    events: list[dict[str, Any]] = Field(default_factory=list)
    next: str = "Done: the events above are committed."


def run_baseline_server() -> None:
    server = MCPServer("baseline", log_level="WARNING")
    counter = iter(range(1, 1 << 62))

    @server.tool(name="get_case_summary")
    def get_case_summary(case_id: str) -> Summary:
        return Summary(case_id=case_id, source_refs=[case_id])

    @server.tool(name="create_analyst_brief")
    def create_analyst_brief(case_id: str, summary: str, confidence: float, rationale: str = "",
                             evidence_refs: list[str] | None = None,
                             idempotency_key: str | None = None) -> Receipt:
        number = next(counter)
        return Receipt(proposal_id=f"prop_{number}", aggregate_id=case_id, events=[{
            "event_type": "case.brief_added", "aggregate_id": case_id, "position": number,
            "payload": {"summary": summary}}])

    @server.tool(name="create_notice_draft")
    def create_notice_draft(case_id: str, body: str, confidence: float, rationale: str = "",
                            evidence_refs: list[str] | None = None,
                            idempotency_key: str | None = None) -> Receipt:
        number = next(counter)
        return Receipt(proposal_id=f"prop_{number}", aggregate_id=f"notice_{number}",
                       command_type="notice.create_draft", events=[{
                           "event_type": "notice.drafted", "aggregate_id": f"notice_{number}",
                           "position": number, "payload": {"case_id": case_id, "body": body}}])

    server.run("stdio")


# --- latency over stdio ------------------------------------------------------------------


TOOLS: dict[str, Any] = {
    "get_case_summary": lambda n, tag: SUMMARY,
    "create_analyst_brief": brief,
    "create_notice_draft": draft,
}


async def call_ok(client: Client, tool: str, args: dict[str, Any]) -> float:
    started = time.perf_counter()
    result = await client.call_tool(tool, args)
    elapsed = time.perf_counter() - started
    if result.is_error:
        raise SystemExit(f"{tool} failed: {result.content}")
    return elapsed


async def latency(calls: int, warmup: int, mode: str) -> dict[str, Any]:
    """Both servers at once, their calls interleaved (ours, bare, ours, ...), so
    background load on the machine weighs on both sides of each ratio alike."""
    with tempfile.TemporaryDirectory() as folder:
        signoff = StdioServerParameters(command=sys.executable, args=[
            "-m", "signoff.server.cli", "serve", "--demo", "--db", f"{folder}/bench.db",
            "--policy", str(bench_policy(Path(folder))), "--principal", "agent:triage",
            "--tenant", "acme"])
        bare = StdioServerParameters(command=sys.executable,
                                     args=[str(HERE), "--baseline-server"])
        ours: dict[str, float] = {}
        theirs: dict[str, float] = {}
        async with Client(signoff, mode=mode) as a, Client(bare, mode=mode) as b:
            for tool, make in TOOLS.items():
                samples: dict[str, list[float]] = {"a": [], "b": []}
                for n in range(warmup + calls):
                    args = make(n, f"{tool}-{n}")
                    for side, client in (("a", a), ("b", b)):
                        elapsed = await call_ok(client, tool, args)
                        if n >= warmup:
                            samples[side].append(elapsed)
                ours[tool] = statistics.median(samples["a"]) * 1000
                theirs[tool] = statistics.median(samples["b"]) * 1000
    return {"mode": mode, "calls": calls, "signoff_ms": ours, "baseline_ms": theirs,
            "ratio": {tool: ours[tool] / theirs[tool] for tool in ours},
            "goal": {"get_case_summary": QUERY_GOAL, "create_analyst_brief": COMMAND_GOAL,
                     "create_notice_draft": COMMAND_GOAL}}


# --- HTTP load -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def client_loop(url: str, tool: str, client_no: int, deadline: float,
                      latencies: list[float], receipts: list[str], refused: list[str]) -> None:
    async with (httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"},
                                   timeout=120) as http,
                Client(streamable_http_client(url, http_client=http)) as client):
        n = 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            result = await client.call_tool(tool, TOOLS[tool](n, f"load-{client_no}"))
            latencies.append(time.perf_counter() - started)
            receipt = result.structured_content or {}
            if receipt.get("outcome") == "accepted" and receipt.get("proposal_id"):
                receipts.append(str(receipt["proposal_id"]))
            else:
                refused.append(str(receipt.get("reason") or result.content))
            n += 1


async def http_load(seconds: float, clients: int, tool: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        db, tokens, port = Path(folder) / "load.db", Path(folder) / "tokens.toml", free_port()
        tokens.write_text(f'[[token]]\nsha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"\n'
                          'principal = "agent:triage"\ntenant = "acme"\n')
        process = await anyio.open_process(
            [sys.executable, "-m", "signoff.server.cli", "serve", "--transport", "http",
             "--port", str(port), "--db", str(db), "--demo", "--tokens", str(tokens),
             "--policy", str(bench_policy(Path(folder)))],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await wait_for_port(port)
            url = f"http://127.0.0.1:{port}/mcp"
            latencies: list[float] = []
            receipts: list[str] = []
            refused: list[str] = []
            started = time.monotonic()
            async with anyio.create_task_group() as tasks:
                for number in range(clients):
                    tasks.start_soon(client_loop, url, tool, number, started + seconds,
                                     latencies, receipts, refused)
            elapsed = time.monotonic() - started
        finally:
            process.terminate()
            with anyio.fail_after(60):
                await process.wait()
        with sqlite3.connect(db) as conn:
            stored = {row[0] for row in conn.execute("SELECT proposal_id FROM proposals")}
    ordered = sorted(latencies)
    return {
        "tool": tool, "clients": clients, "seconds": round(elapsed, 2), "calls": len(latencies),
        "accepted": len(receipts), "refused": len(refused), "refusals": sorted(set(refused))[:5],
        "stored_proposals": len(stored),
        "lost": len(set(receipts) - stored), "duplicated": len(receipts) - len(set(receipts)),
        "unreceipted_in_db": len(stored - set(receipts)),
        "p50_ms": ordered[len(ordered) // 2] * 1000 if ordered else None,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        if ordered else None,
        "throughput_per_s": len(latencies) / elapsed,
    }


async def wait_for_port(port: int) -> None:
    for _ in range(600):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            await anyio.sleep(0.05)
    raise SystemExit("the HTTP server did not start")


# --- output --------------------------------------------------------------------------------


def report(results: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(results, indent=2))
        return
    console = Console()
    if "ratio" in results:
        table = Table("tool", "signoff (median ms)", "bare MCPServer", "ratio", "goal",
                      title=f"stdio latency, {results['calls']} calls, mode {results['mode']}")
        for tool, ratio in results["ratio"].items():
            goal = results["goal"][tool]
            table.add_row(tool, f"{results['signoff_ms'][tool]:.3f}",
                          f"{results['baseline_ms'][tool]:.3f}",
                          f"[{'green' if ratio <= goal else 'red'}]{ratio:.2f}x[/]",
                          f"<= {goal}x")
        console.print(table)
    else:
        for key, value in results.items():
            console.print(f"{key}: {value:.2f}" if isinstance(value, float) else
                          f"{key}: {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--mode", default="legacy", choices=["legacy", "2026-07-28"])
    parser.add_argument("--http-load", action="store_true")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--tool", default="create_notice_draft",
                        choices=["create_notice_draft", "create_analyst_brief"],
                        help="HTTP load: the auto-approved proposal to submit. Drafts create a "
                        "new aggregate each; briefs all grow one case's stream.")
    parser.add_argument("--baseline-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_server:
        run_baseline_server()
        return
    if args.http_load:
        results = asyncio.run(http_load(args.seconds, args.clients, args.tool))
        report(results, args.json)
        bad = results["lost"] or results["duplicated"] or results["unreceipted_in_db"]
        raise SystemExit(1 if bad else 0)
    report(asyncio.run(latency(args.calls, args.warmup, args.mode)), args.json)


if __name__ == "__main__":
    main()
