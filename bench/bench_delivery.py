"""Delivery benchmarks: ratios against baselines measured in the same run.

    python bench/bench_delivery.py            # the full run
    python bench/bench_delivery.py --quick    # smaller sizes, for a smoke run
    python bench/bench_delivery.py --json     # one JSON object per line

Measures, on the same disk:
  1. relay throughput: the outbox relay draining N committed events into the
     JSONL sink (claim with leases, publish, fsync per batch, settle), vs
     writing the same JSON lines to a file directly with the same fsyncs;
  2. projector catch-up: the async `case_timeline` projection over 100 000
     events (interleaved over 1 000 cases) from checkpoint 0, vs a raw ordered
     read (`SELECT payload FROM events ORDER BY position` + json.loads);
  3. end-to-end lag: from a command's commit (its receipt returned) to the
     async read model reflecting it, p50 and p99, under a steady offered load
     (default 500 commands/s; the achieved rate is reported), with the
     projector polling as `serve` does (0.2 s) and tightly (0.01 s).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import bench_policy, fresh
from rich.console import Console
from rich.table import Table

from signoff.server.app import App, Settings, build_app
from signoff.server.delivery.config import RelayOptions
from signoff.server.delivery.relay import Relay
from signoff.server.delivery.sinks import JsonlSink, encode, message_document
from signoff.server.domain import NewEvent
from signoff.server.state.committer import Causation
from signoff.server.state.projector import Projector
from signoff.store.records import Actor

console = Console(stderr=True)
BATCH = 500


async def open_app(folder: Path, name: str) -> App:
    app = await build_app(Settings(db=fresh(folder, name), policy=bench_policy(folder)))
    await app.seed_if_empty()
    return app


async def fill(app: App, events: int, cases: int = 1000) -> None:
    """`events` case events over `cases` synthetic cases, interleaved (case 0,
    1, ... 999, then each one's next event): setup, not measured."""
    seeder = Causation(actor=Actor(id="system:bench", kind="system"))
    rounds = max(events // cases, 1)
    for r in range(rounds):
        def write(uow: Any, r: int = r) -> None:
            for c in range(cases):
                event = NewEvent("case.opened", {
                    "title": f"Case {c}", "allegation_summary": "x", "assigned_team": "bench",
                    "risk_level": "low"}, 2) if r == 0 else NewEvent(
                    "case.brief_added", {"brief_number": r, "summary": f"b{r}"})
                app.committer.commit(uow, tenant_id="acme", aggregate_type="case",
                                     aggregate_id=f"bench-{c:05d}", base_version=r,
                                     events=[event], causation=seeder)

        await app.store.write(write)
        console.print(f"  filled {(r + 1) * cases:,}/{rounds * cases:,} events", end="\r")
    console.print()


async def relay_throughput(folder: Path, events: int) -> tuple[float, float]:
    app = await open_app(folder, "relay.db")
    try:
        await fill(app, events, cases=min(events // 10, 1000))
        rows = await app.store.read(lambda uow: uow.outbox.find(status="pending", limit=10**7))

        def direct() -> float:
            """The baseline: the same lines, one write each, fsync per batch."""
            path = fresh(folder, "direct.jsonl")
            start = time.perf_counter()
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                for i, row in enumerate(rows, start=1):
                    os.write(fd, encode(message_document(row)) + b"\n")
                    if i % BATCH == 0:
                        os.fsync(fd)
                os.fsync(fd)
            finally:
                os.close(fd)
            return len(rows) / (time.perf_counter() - start)

        baseline = await asyncio.to_thread(direct)
        sink = JsonlSink("bench", fresh(folder, "relay.jsonl"))
        relay = Relay(app.store, [sink], app.clock, RelayOptions(batch=BATCH), owner="bench")
        start = time.perf_counter()
        result = await relay.drain()
        elapsed = time.perf_counter() - start
        await relay.close()
        assert result.published == len(rows), result
        return len(rows) / elapsed, baseline
    finally:
        await app.close()


async def projector_catch_up(folder: Path, events: int) -> tuple[float, float]:
    app = await open_app(folder, "projector.db")
    try:
        await fill(app, events)
        total = await app.store.read(lambda uow: uow.events.head())
        path = app.settings.db

        def raw() -> float:
            start = time.perf_counter()
            with sqlite3.connect(path) as conn:
                for (payload,) in conn.execute("SELECT payload FROM events ORDER BY position"):
                    json.loads(payload)
            return total / (time.perf_counter() - start)

        baseline = await asyncio.to_thread(raw)
        projector = Projector(app.store, app.domain, app.upcaster)
        start = time.perf_counter()
        [status] = await projector.catch_up()
        elapsed = time.perf_counter() - start
        assert status.lag == 0, status
        assert status.stalled is None, status
        return total / elapsed, baseline
    finally:
        await app.close()


async def end_to_end_lag(folder: Path, rate: float, seconds: float, poll: float
                         ) -> dict[str, float]:
    app = await open_app(folder, f"lag-{poll}.db")
    agent = app.principals.get("agent:triage")
    assert agent is not None
    triage = agent.facts("acme")
    committed: list[tuple[int, float]] = []  # (position, when its receipt came back)
    lags: list[float] = []
    seen, target = 0, 2**62
    caught_up = asyncio.Event()

    def on_progress(_name: str, position: int) -> None:
        nonlocal seen
        now = time.perf_counter()
        committed.sort()
        upto = bisect.bisect_right(committed, (position, float("inf")))
        lags.extend(now - at for _, at in committed[:upto])
        del committed[:upto]
        seen = max(seen, position)
        if seen >= target:
            caught_up.set()

    projector = Projector(app.store, app.domain, app.upcaster, poll=poll,
                          on_progress=on_progress)
    await projector.catch_up()
    stop = asyncio.Event()
    worker = asyncio.create_task(projector.run(stop))  # type: ignore[arg-type]
    cases = ["case-acme-001", "case-acme-002", "case-acme-003"]

    async def one(i: int) -> None:
        receipt = await app.proposals.submit(triage, "brief.create", {
            "case_id": cases[i % 3], "summary": f"load {i}", "confidence": 0.9})
        committed.append((receipt.events[0].position, time.perf_counter()))

    try:
        n = int(rate * seconds)
        start = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        achieved = n / (time.perf_counter() - start)
        target = await app.store.read(lambda uow: uow.events.head())
        if seen < target:
            await caught_up.wait()
    finally:
        stop.set()
        await worker
        await app.close()
    cuts = statistics.quantiles(lags, n=100)
    return {"p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000, "achieved": achieved,
            "samples": len(lags)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--rate", type=float, default=500.0, help="offered commands/s")
    parser.add_argument("--dir", type=Path, default=None, help="where the databases go")
    args = parser.parse_args()
    relay_n = 5_000 if args.quick else 20_000
    projector_n = 20_000 if args.quick else 100_000
    seconds = 3.0 if args.quick else 10.0
    folder = args.dir or Path(tempfile.mkdtemp(prefix="signoff-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    try:
        # The lag runs first: the large fills below leave the disk busy writing
        # back for a while, which would show up as fsync latency here.
        for poll in (0.2, 0.01):
            console.print(f"[bold]lag at {args.rate:.0f} cmd/s offered, poll {poll}s[/bold]")
            lag = await end_to_end_lag(folder, args.rate, seconds, poll)
            for q in ("p50_ms", "p99_ms"):
                rows.append({"bench": f"commit->read model lag {q[:3]} (poll {poll}s)",
                             "value": lag[q], "unit": "ms", "baseline": poll * 1000,
                             "baseline_name": "poll interval ms",
                             "ratio": lag[q] / (poll * 1000),
                             "offered_cmd_s": args.rate, "achieved_cmd_s": lag["achieved"],
                             "samples": lag["samples"]})
        os.sync()
        console.print(f"[bold]relay: {relay_n:,} events to the JSONL sink[/bold]")
        ours, direct = await relay_throughput(folder, relay_n)
        rows.append({"bench": "relay -> JSONL", "value": ours, "unit": "events/s",
                     "baseline": direct, "baseline_name": "direct file writes/s",
                     "ratio": ours / direct})
        console.print(f"[bold]projector: catch-up over {projector_n:,} events[/bold]")
        ours, raw = await projector_catch_up(folder, projector_n)
        rows.append({"bench": "projector catch-up", "value": ours, "unit": "events/s",
                     "baseline": raw, "baseline_name": "raw SELECT+json.loads events/s",
                     "ratio": ours / raw})
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        for row in rows:
            sys.stdout.write(json.dumps(row) + "\n")
        return
    table = Table("benchmark", "value", "baseline", "ratio", "load", title="signoff delivery")
    for row in rows:
        load = (f"{row['achieved_cmd_s']:.0f}/{row['offered_cmd_s']:.0f} cmd/s"
                if "achieved_cmd_s" in row else "")
        table.add_row(row["bench"], f"{row['value']:,.1f} {row['unit']}",
                      f"{row['baseline']:,.1f} ({row['baseline_name']})",
                      f"{row['ratio']:.2f}", load)
    Console().print(table)


if __name__ == "__main__":
    asyncio.run(main())
