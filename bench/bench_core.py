"""Core write path benchmarks: ratios against baselines measured in the same run.

    python bench/bench_core.py            # the full run (1 000 000-event scale check)
    python bench/bench_core.py --quick    # smaller sizes, for a smoke run
    python bench/bench_core.py --json     # one JSON object per line

Measures, on the same disk, all with synchronous=FULL:
  1. sequential: one auto-approved command per transaction (record + execute),
     vs raw stdlib sqlite3 inserting one event row per BEGIN IMMEDIATE/COMMIT;
  2. group commit: 16 concurrent proposers, vs the same raw rate;
  3. peer: the same workload on the `eventsourcing` library's SQLite backend
     (installed by `pip install -e '.[bench]'`; skipped if absent);
  4. replay: `projections rebuild` over N events vs a raw ordered SELECT with
     json.loads of each payload;
  5. scale: command throughput and query latency with a large store vs a
     small one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchlib import bench_policy, fresh
from rich.console import Console
from rich.table import Table

from signoff.policies import PrincipalFacts
from signoff.server.app import App, Settings, build_app
from signoff.server.domain import NewEvent
from signoff.server.state.committer import Causation
from signoff.server.state.rebuild import rebuild_projections
from signoff.store.records import Actor

console = Console(stderr=True)


def raw_commits(folder: Path, n: int) -> float:
    """Baseline: one event-shaped row per BEGIN IMMEDIATE ... COMMIT."""
    conn = sqlite3.connect(fresh(folder, "raw.db"), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE events (position INTEGER PRIMARY KEY, event_id TEXT, "
                 "aggregate_id TEXT, payload TEXT)")
    start = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO events (event_id, aggregate_id, payload) VALUES (?, ?, ?)",
                     (f"e{i}", "a", json.dumps({"i": i})))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return n / elapsed


async def open_app(path: Path) -> tuple[App, PrincipalFacts]:
    app = await build_app(Settings(db=path, policy=bench_policy(path.parent)))
    await app.seed_if_empty()
    record = app.principals.get("agent:triage")
    assert record is not None
    return app, record.facts("acme")


DRAFT = {"case_id": "case-acme-002", "body": "Notice of investigation.", "confidence": 0.9}


async def submit_drafts(app: App, agent: PrincipalFacts, n: int) -> None:
    for _ in range(n):
        receipt = await app.proposals.submit(agent, "notice.create_draft", DRAFT)
        assert receipt.status == "executed", receipt


async def timed(fn: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    await fn()
    return time.perf_counter() - start


async def sequential(folder: Path, n: int) -> float:
    app, agent = await open_app(fresh(folder, "seq.db"))
    try:
        await submit_drafts(app, agent, 50)  # warm-up
        return n / await timed(lambda: submit_drafts(app, agent, n))
    finally:
        await app.close()


async def grouped(folder: Path, n: int, proposers: int = 16) -> tuple[float, float]:
    app, agent = await open_app(fresh(folder, "group.db"))
    try:
        await submit_drafts(app, agent, 50)
        before = app.store.batches
        each = n // proposers

        async def all_of_them() -> None:
            await asyncio.gather(*(submit_drafts(app, agent, each) for _ in range(proposers)))

        rate = each * proposers / await timed(all_of_them)
        return rate, each * proposers / max(app.store.batches - before, 1)
    finally:
        await app.close()


def peer_eventsourcing(folder: Path, n: int) -> float | None:
    """The same workload on eventsourcing's SQLite recorder: load the case,
    check it, save one new aggregate's event, one transaction per command."""
    try:
        from eventsourcing.application import Application
        from eventsourcing.domain import Aggregate, event
    except ImportError:
        return None

    class Case(Aggregate):  # type: ignore[misc]
        @event("Opened")
        def __init__(self, title: str) -> None:
            self.title = title
            self.open = True

    class Notice(Aggregate):  # type: ignore[misc]
        @event("Drafted")
        def __init__(self, case_id: str, body: str) -> None:
            self.case_id = case_id
            self.body = body

    class Desk(Application):  # type: ignore[misc]
        def draft(self, case_id: Any, body: str) -> None:
            case = self.repository.get(case_id)
            if not case.open:
                raise ValueError("closed")
            self.save(Notice(str(case_id), body))

    path = fresh(folder, "peer.db")
    desk = Desk(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path),
                     "SQLITE_LOCK_TIMEOUT": "10"})
    case = Case("Northgate")
    desk.save(case)
    with sqlite3.connect(path) as conn:
        sync = conn.execute("PRAGMA synchronous").fetchone()[0]
    for _ in range(50):
        desk.draft(case.id, DRAFT["body"])
    start = time.perf_counter()
    for _ in range(n):
        desk.draft(case.id, DRAFT["body"])
    rate = n / (time.perf_counter() - start)
    desk.close()
    console.print(f"  (eventsourcing SQLite: PRAGMA synchronous = {sync})")
    return rate


async def fill(app: App, events: int, cases: int = 1000) -> None:
    """Append `events` brief events spread over `cases` synthetic cases, in
    large transactions (this is setup, not measured)."""
    case = app.domain.aggregate("case")
    assert case is not None
    per_case = max(events // cases, 1)
    seeder = Causation(actor=Actor(id="system:bench", kind="system"))
    done = 0
    batch: list[tuple[str, list[NewEvent]]] = []
    for c in range(cases):
        opened = NewEvent("case.opened", {"title": f"Case {c}", "allegation_summary": "x",
                                          "assigned_team": "bench", "risk_level": "low"}, 2)
        briefs = [NewEvent("case.brief_added", {"brief_number": b + 1, "summary": f"b{b}"})
                  for b in range(per_case - 1)]
        batch.append((f"bench-{c:06d}", [opened, *briefs]))
        done += per_case
        if len(batch) * per_case >= 20_000 or c == cases - 1:
            chunk, batch = batch, []

            def write(uow: Any, chunk: list[tuple[str, list[NewEvent]]] = chunk) -> None:
                for case_id, events_ in chunk:
                    app.committer.commit(uow, tenant_id="acme", aggregate_type="case",
                                         aggregate_id=case_id, base_version=0, events=events_,
                                         causation=seeder)

            await app.store.write(write)
            console.print(f"  filled {done:,}/{events:,} events", end="\r")
    console.print()


async def replay(folder: Path, events: int) -> tuple[float, float]:
    path = fresh(folder, "replay.db")
    app, _ = await open_app(path)
    try:
        await fill(app, events)
        total = await app.store.read(lambda uow: uow.events.head())

        def raw() -> None:
            with sqlite3.connect(path) as conn:
                for (payload,) in conn.execute("SELECT payload FROM events ORDER BY position"):
                    json.loads(payload)

        start = time.perf_counter()
        await asyncio.to_thread(raw)
        raw_rate = total / (time.perf_counter() - start)
        ours = total / await timed(
            lambda: rebuild_projections(app.store, app.domain, app.upcaster))
        return ours, raw_rate
    finally:
        await app.close()


async def query_latency(app: App, agent: PrincipalFacts, n: int = 300) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await app.queries.run(agent, "get_case_summary", {"case_id": "case-acme-002"})
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def scale(folder: Path, small: int, large: int, n: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for label, size in (("small", small), ("large", large)):
        app, agent = await open_app(fresh(folder, f"scale-{label}.db"))
        try:
            await fill(app, size)
            await submit_drafts(app, agent, 50)
            out[f"{label}_cmd_s"] = n / await timed(
                lambda app=app, agent=agent: submit_drafts(app, agent, n))
            out[f"{label}_query_ms"] = await query_latency(app, agent) * 1000
        finally:
            await app.close()
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--dir", type=Path, default=None, help="where the databases go")
    args = parser.parse_args()
    n = 500 if args.quick else 2000
    replay_n = 20_000 if args.quick else 100_000
    large = 100_000 if args.quick else 1_000_000
    folder = args.dir or Path(tempfile.mkdtemp(prefix="signoff-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    try:
        console.print("[bold]raw sqlite3 baseline[/bold]")
        raw = raw_commits(folder, n)
        console.print("[bold]sequential commands[/bold]")
        seq = await sequential(folder, n)
        rows.append({"bench": "sequential", "value": seq, "unit": "cmd/s", "baseline": raw,
                     "baseline_name": "raw 1-row commits/s", "ratio": seq / raw, "goal": ">= 0.8"})
        console.print("[bold]16 concurrent proposers[/bold]")
        group, per_batch = await grouped(folder, n * 2)
        rows.append({"bench": "group commit x16", "value": group, "unit": "cmd/s",
                     "baseline": raw, "baseline_name": "raw 1-row commits/s",
                     "ratio": group / raw, "goal": ">= 3", "commands_per_commit": per_batch})
        console.print("[bold]peer: eventsourcing[/bold]")
        peer = peer_eventsourcing(folder, n)
        if peer is not None:
            rows.append({"bench": "vs eventsourcing (sequential)", "value": seq, "unit": "cmd/s",
                         "baseline": peer, "baseline_name": "eventsourcing cmd/s",
                         "ratio": seq / peer, "goal": ">= 2"})
            rows.append({"bench": "vs eventsourcing (x16 grouped)", "value": group,
                         "unit": "cmd/s", "baseline": peer,
                         "baseline_name": "eventsourcing cmd/s", "ratio": group / peer,
                         "goal": ">= 2"})
        console.print(f"[bold]replay of {replay_n:,} events[/bold]")
        ours, raw_read = await replay(folder, replay_n)
        rows.append({"bench": "replay (rebuild)", "value": ours, "unit": "events/s",
                     "baseline": raw_read, "baseline_name": "raw SELECT+json.loads events/s",
                     "ratio": ours / raw_read, "goal": ">= 0.4"})
        console.print(f"[bold]scale: 1,000 vs {large:,} events[/bold]")
        sc = await scale(folder, 1000, large, n // 2)
        rows.append({"bench": f"scale cmd/s ({large:,} vs 1,000)", "value": sc["large_cmd_s"],
                     "unit": "cmd/s", "baseline": sc["small_cmd_s"],
                     "baseline_name": "cmd/s at 1,000 events",
                     "ratio": sc["small_cmd_s"] / sc["large_cmd_s"], "goal": "<= 1.2 (slowdown)"})
        rows.append({"bench": f"scale query ms ({large:,} vs 1,000)",
                     "value": sc["large_query_ms"], "unit": "ms",
                     "baseline": sc["small_query_ms"], "baseline_name": "ms at 1,000 events",
                     "ratio": sc["large_query_ms"] / sc["small_query_ms"],
                     "goal": "<= 1.2 (slowdown)"})
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        for row in rows:
            sys.stdout.write(json.dumps(row) + "\n")
        return
    table = Table("benchmark", "value", "baseline", "ratio", "goal", title="signoff core")
    for row in rows:
        table.add_row(row["bench"], f"{row['value']:,.1f} {row['unit']}",
                      f"{row['baseline']:,.1f} ({row['baseline_name']})",
                      f"{row['ratio']:.2f}", row["goal"])
    Console().print(table)


if __name__ == "__main__":
    asyncio.run(main())
