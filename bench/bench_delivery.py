"""The read side and delivery against raw baselines, rounds alternating.

    python bench/bench_delivery.py [--quick] [--json] [--rounds N] [--dir DIR]

Arms, each run once per round, each on its own fresh copy of a filled
database (copied untimed), so every round starts from the same state:

  raw read     `SELECT payload FROM events ORDER BY position` + json.loads;
  rebuild      `projections rebuild` (every projection, inline and async);
  catch-up     the async projector from checkpoint 0 to the head;
  direct       the outbox's messages as JSON lines written straight to a
               file, fsync every relay batch (the same fsyncs as the relay);
  relay        the outbox relay draining the same rows into the JSONL sink
               (claims with leases, publishes, fsyncs per batch, settles).

Then, untimed against any baseline: the lag from a command's receipt to the
async read model reflecting it, under a steady offered load, with the
projector polling as `serve` does (0.2 s) and tightly (0.01 s).
"""

from __future__ import annotations

import asyncio
import bisect
import json
import os
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import anyio
from benchlib import copy_db, emit, err, fresh, open_app, parser, workdir
from rounds import Row, alternate, at_least, ratio_row, value_row

from signoff.server.app import App
from signoff.server.delivery.config import RelayOptions
from signoff.server.delivery.relay import Relay
from signoff.server.delivery.sinks import JsonlSink, encode, message_document
from signoff.server.domain import NewEvent
from signoff.server.state.committer import Causation
from signoff.server.state.projector import Projector
from signoff.server.state.rebuild import rebuild_projections
from signoff.store.records import Actor

BENCH = "delivery"
BATCH = 500


async def fill(app: App, events: int, cases: int = 1000) -> None:
    """`events` case events over `cases` synthetic cases, interleaved (case 0,
    1, ... then each one's next event), in large transactions: setup."""
    seeder = Causation(actor=Actor(id="system:bench", kind="system"))
    cases = min(cases, max(events // 10, 1))
    for r in range(max(events // cases, 1)):
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


class Copies:
    """A fresh copy of the filled database for every timed run."""

    def __init__(self, folder: Path, filled: Path) -> None:
        self.folder, self.filled, self.n = folder, filled, 0

    async def app(self) -> App:
        self.n += 1
        path = copy_db(self.filled, fresh(self.folder, f"copy-{self.n % 2}.db"))
        os.sync()  # the copy's writeback is not the next arm's fsync
        app, _ = await open_app(path, seed=False)
        return app


def raw_read(path: Path) -> float:
    start = time.perf_counter()
    count = 0
    with sqlite3.connect(path) as conn:
        for (payload,) in conn.execute("SELECT payload FROM events ORDER BY position"):
            json.loads(payload)
            count += 1
    conn.close()
    return count / (time.perf_counter() - start)


async def timed_on_copy(copies: Copies, work: Any) -> float:
    app = await copies.app()
    try:
        total = await app.store.read(lambda uow: uow.events.head())
        start = time.perf_counter()
        await work(app)
        return float(total) / (time.perf_counter() - start)
    finally:
        await app.close()


async def catch_up(app: App) -> None:
    [status] = await Projector(app.store, app.domain, app.upcaster).catch_up()
    assert status.lag == 0, status
    assert status.stalled is None, status


async def rebuild(app: App) -> None:
    await rebuild_projections(app.store, app.domain, app.upcaster)


async def relay_rate(copies: Copies, folder: Path) -> float:
    app = await copies.app()
    try:
        sink = JsonlSink("bench", fresh(folder, "relay.jsonl"))
        relay = Relay(app.store, [sink], app.clock, RelayOptions(batch=BATCH), owner="bench")
        start = time.perf_counter()
        result = await relay.drain()
        elapsed = time.perf_counter() - start
        await relay.close()
        return float(result.published) / elapsed
    finally:
        await app.close()


async def direct_rate(copies: Copies, folder: Path) -> float:
    """The relay's baseline: the same lines, one write each, fsync per batch."""
    app = await copies.app()
    try:
        rows = await app.store.read(lambda uow: uow.outbox.find(status="pending",
                                                                limit=10**7))
    finally:
        await app.close()
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


async def filled(folder: Path, name: str, events: int) -> Path:
    app, _ = await open_app(fresh(folder, name))
    try:
        await fill(app, events)
    finally:
        await app.close()
    return folder / name


async def end_to_end_lag(folder: Path, rate: float, seconds: float, poll: float
                         ) -> dict[str, float]:
    app, triage = await open_app(fresh(folder, f"lag-{poll}.db"))
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
    stop = anyio.Event()
    worker = asyncio.create_task(projector.run(stop))
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


async def run(folder: Path, rounds: int, events: int, relay_n: int, rate: float,
              seconds: float) -> list[Row]:
    rows: list[Row] = []
    # The lag runs first: the large fills below leave the disk writing back.
    for poll in (0.2, 0.01):
        err.print(f"[bold]delivery: lag at {rate:.0f} cmd/s offered, poll {poll}s[/bold]")
        lag = await end_to_end_lag(folder, rate, seconds, poll)
        for q in ("p50_ms", "p99_ms"):
            rows.append(value_row(BENCH, f"commit → read model lag {q[:3]} (poll {poll}s, "
                                  f"{lag['achieved']:.0f} of {rate:.0f} cmd/s offered)",
                                  [lag[q]], "ms", offered=rate, achieved=lag["achieved"],
                                  samples=lag["samples"]))
    err.print(f"[bold]delivery: filling {events:,} and {relay_n:,} events[/bold]")
    read_side = Copies(folder, await filled(folder, "read.db", events))
    outbox = Copies(folder, await filled(folder, "outbox.db", relay_n))
    os.sync()
    err.print(f"[bold]delivery: {rounds} alternating rounds[/bold]")
    got = await alternate({
        "raw_read": lambda: raw_read(read_side.filled),
        "rebuild": lambda: timed_on_copy(read_side, rebuild),
        "catch_up": lambda: timed_on_copy(read_side, catch_up),
        "direct": lambda: direct_rate(outbox, folder),
        "relay": lambda: relay_rate(outbox, folder),
    }, rounds)
    rows += [
        ratio_row(BENCH, f"projections rebuild ÷ raw ordered read + decode ({events:,} events)",
                  ("rebuild", got["rebuild"]), ("raw_read", got["raw_read"]), at_least(0.3),
                  unit="events/s"),
        ratio_row(BENCH, "projector catch-up ÷ raw ordered read + decode",
                  ("catch_up", got["catch_up"]), ("raw_read", got["raw_read"]), at_least(0.3),
                  unit="events/s"),
        ratio_row(BENCH, f"relay to JSONL ÷ direct writes with the same fsyncs ({relay_n:,})",
                  ("relay", got["relay"]), ("direct", got["direct"]), at_least(0.5),
                  unit="messages/s"),
    ]
    return rows


async def main() -> None:
    p = parser(__doc__)
    p.add_argument("--rate", type=float, default=None, help="offered commands/s (lag)")
    args = p.parse_args()
    rounds = args.rounds or (5 if args.quick else 7)
    with workdir(args.dir) as folder:
        rows = await run(folder, rounds, 10_000 if args.quick else 100_000,
                         5_000 if args.quick else 20_000,
                         args.rate or (100.0 if args.quick else 500.0),
                         2.0 if args.quick else 10.0)
    emit(rows, args.json, "signoff read side and delivery")


if __name__ == "__main__":
    asyncio.run(main())
