"""What signoff costs on the wire, against a bare MCP server, rounds alternating.

    python bench/bench_mcp.py [--quick] [--json] [--rounds N] [--mode legacy|2026-07-28]
    python bench/bench_mcp.py --http-load [--quick] [--json] [--clients 32] [--seconds S]
    python bench/bench_mcp.py --all ...      # both, as bench/run.py runs it

stdio (default): `signoff serve --demo` and a bare `MCPServer` with the same
tool shapes and no storage (bare_server.py) run as separate processes, each
driven by a real `mcp.Client`. Each round times `--calls` sequential calls of
get_case_summary (a query), create_analyst_brief (an auto-approved proposal
on one case, whose stream grows) and create_notice_draft (a new aggregate per
call) on each server; the ratio is signoff's median ÷ the bare median, per
round. Before every round signoff's background writes (runtime log, relay,
projector) are let settle (quiet.py), so none lands on a bare round; the
commits that still did are counted and reported.

HTTP (`--http-load`): `signoff serve --transport http` and the bare server on
streamable HTTP, separate processes; each round connects `--clients` clients
to one of them, then has them submit auto-approved notice drafts (unique
idempotency keys) for `--seconds`. The ratio is signoff's accepted proposals
per second ÷ the bare server's calls per second under the same load. After
the rounds signoff's database must hold exactly the proposals the receipts
name: none lost, none duplicated (reported; `--http-load` alone exits 1).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import mcp_load
from benchlib import bench_policy, draft, emit, err, parser
from mcp import Client, StdioServerParameters
from quiet import Quiet
from rounds import Row, alternate, at_least, at_most, ratio_row, value_row

BENCH = "mcp"
HERE = Path(__file__).resolve().parent
GOALS = {"get_case_summary": at_most(1.1), "create_analyst_brief": at_most(1.5),
         "create_notice_draft": at_most(1.5)}
WHAT = {"get_case_summary": "query", "create_analyst_brief": "executed command (brief)",
        "create_notice_draft": "executed command (draft)"}


def brief(n: int, tag: str) -> dict[str, Any]:
    return {"case_id": "case-acme-001", "summary": f"Benchmark brief {n}.",
            "rationale": "measuring", "evidence_refs": ["ev-acme-001-a"], "confidence": 0.9,
            "idempotency_key": f"{tag}-{n}"}


TOOLS: dict[str, Any] = {
    "get_case_summary": lambda n, tag: {"case_id": "case-acme-001"},
    "create_analyst_brief": brief,
    "create_notice_draft": draft,
}


class Caller:
    """One client, calling one tool `calls` times per round."""

    def __init__(self, client: Client, side: str) -> None:
        self.client, self.side, self.sent = client, side, 0

    async def median_ms(self, tool: str, calls: int) -> float:
        samples = []
        for _ in range(calls):
            self.sent += 1
            args = TOOLS[tool](self.sent, f"{self.side}-{tool}")
            started = time.perf_counter()
            result = await self.client.call_tool(tool, args)
            samples.append(time.perf_counter() - started)
            if result.is_error:
                raise SystemExit(f"{self.side} {tool} failed: {result.content}")
        return statistics.median(samples) * 1000


async def stdio_latency(folder: Path, rounds: int, calls: int, warmup: int,
                        mode: str) -> list[Row]:
    db = folder / "stdio.db"
    signoff = StdioServerParameters(command=sys.executable, args=[
        "-m", "signoff.server.cli", "serve", "--demo", "--db", str(db),
        "--policy", str(bench_policy(folder)), "--principal", "agent:triage",
        "--tenant", "acme"])
    bare = StdioServerParameters(command=sys.executable, args=[str(HERE / "bare_server.py")])
    quiet = Quiet(db)
    landed: list[int] = []
    async with Client(signoff, mode=mode) as a, Client(bare, mode=mode) as b:
        ours, theirs = Caller(a, "signoff"), Caller(b, "bare")
        for tool in TOOLS:
            await ours.median_ms(tool, warmup)
            await theirs.median_ms(tool, warmup)

        def bare_arm(tool: str) -> Any:
            async def arm() -> float:
                before = quiet.mark()
                value = await theirs.median_ms(tool, calls)
                landed.append(quiet.mark() - before)
                return value
            return arm

        arms: dict[str, Any] = {}
        for tool in TOOLS:
            arms[f"bare:{tool}"] = bare_arm(tool)
            arms[f"signoff:{tool}"] = lambda t=tool: ours.median_ms(t, calls)
        err.print(f"[bold]mcp stdio: {rounds} rounds x {calls} calls per tool and side[/bold]")
        got = await alternate(arms, rounds, between=quiet.settle)
    quiet.close()
    rows = [ratio_row(BENCH, f"MCP stdio: {WHAT[tool]} ÷ bare MCPServer ({tool})",
                      ("signoff", got[f"signoff:{tool}"]), ("bare", got[f"bare:{tool}"]),
                      GOALS[tool], unit="ms", mode=mode, calls=calls)
            for tool in TOOLS]
    rows.append(value_row(BENCH, "signoff commits landing on bare stdio rounds",
                          [float(sum(landed))], "commits", at_most(0),
                          settle_s=statistics.median(quiet.waited)))
    return rows


async def http_rows(folder: Path, rounds: int, clients: int, seconds: float) -> list[Row]:
    err.print(f"[bold]mcp http: {rounds} rounds, {clients} clients x {seconds:g} s per "
              "side[/bold]")
    load = mcp_load.Load(folder, clients, seconds)
    async with load.servers():
        got = await alternate({"bare": load.bare_round, "signoff": load.signoff_round},
                              rounds, between=load.quiet.settle)
        check = load.check()
    return [
        ratio_row(BENCH, f"HTTP, {clients} clients: allowed proposals/s ÷ bare MCPServer",
                  ("signoff", got["signoff"]), ("bare", got["bare"]), at_least(0.7),
                  unit="calls/s", clients=clients, seconds=seconds,
                  signoff_p99_ms=statistics.median(load.p99["signoff"]),
                  bare_p99_ms=statistics.median(load.p99["bare"]),
                  signoff_p50_ms=statistics.median(load.p50["signoff"]),
                  bare_p50_ms=statistics.median(load.p50["bare"]), refusals=load.refusals),
        value_row(BENCH, f"HTTP, {clients} clients: signoff p99 latency", load.p99["signoff"],
                  "ms", bare_p99_ms=load.p99["bare"]),
        value_row(BENCH, "HTTP: proposals lost + duplicated + unreceipted",
                  [float(check["lost"] + check["duplicated"] + check["unreceipted_in_db"])],
                  "proposals", at_most(0), **check),
        value_row(BENCH, "signoff commits landing on bare HTTP rounds",
                  [float(sum(load.landed))], "commits", at_most(0)),
    ]


async def main() -> None:
    p = parser(__doc__)
    p.add_argument("--calls", type=int, default=None)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--mode", default="legacy", choices=["legacy", "2026-07-28"])
    p.add_argument("--http-load", action="store_true", help="the HTTP load rounds only")
    p.add_argument("--all", action="store_true", help="stdio latency and HTTP load")
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--clients", type=int, default=32)
    args = p.parse_args()
    rounds = args.rounds or (5 if args.quick else 7)
    calls = args.calls or (20 if args.quick else 100)
    seconds = args.seconds or (3.0 if args.quick else 15.0)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="signoff-bench-mcp-") as tmp:
        folder = args.dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if not args.http_load:
            rows += await stdio_latency(folder, rounds, calls, args.warmup, args.mode)
        if args.http_load or args.all:
            rows += await http_rows(folder, rounds, args.clients, seconds)
    emit(rows, args.json, "signoff over MCP vs a bare MCPServer")
    if args.http_load and any(r.met is False for r in rows if "lost" in r.measure):
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
