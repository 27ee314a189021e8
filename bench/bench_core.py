"""The write path against its floors and its peer, rounds alternating.

    python bench/bench_core.py [--quick] [--json] [--rounds N] [--dir DIR]

The workload: auto-approved `notice.create_draft` commands, as an agent sends
them (idempotency key, evidence, confidence), on the casework demo data, all
with synchronous=FULL in WAL mode. Arms, each run once per round:

  raw        one tiny row per BEGIN IMMEDIATE ... COMMIT (the classic floor);
  floor      signoff's own statements for the same commands, captured from
             its writer connection and replayed through plain sqlite3 on a
             copy of the database as it was (no signoff code at all);
  signoff    the commands through `ProposalService.submit`, sequentially;
  peer       the same workload on eventsourcing's SQLite store, sequentially;
  floor x16, signoff x16, peer x16: the same with 16 concurrent callers
             (the floor replays signoff's batches exactly as its writer
             group-committed them under 16 callers).

Before the timed rounds, a capture phase records the statements (a
`set_trace_callback` plus a recording wrapper around the writer connection)
and, alternating with the replay of each captured round, measures the Python
inside the writer transaction: the writer's BEGIN-to-COMMIT time minus the
same statements' BEGIN-to-COMMIT time replayed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import peer_es
from benchlib import copy_db, draft, emit, err, fresh, open_app, parser, workdir
from rounds import Row, alternate, at_least, at_most, ratio_row, value_row
from sqlcapture import Capture, Transaction, capturing, plain_connection, replay

from signoff.policies import PrincipalFacts
from signoff.server.app import App

BENCH = "core"
CALLERS = 16


class Proposer:
    """Drafts through signoff's service, one caller or many."""

    def __init__(self, app: App, agent: PrincipalFacts, tag: str) -> None:
        self.app, self.agent, self.tag, self.sent = app, agent, tag, 0

    async def run(self, n: int) -> None:
        for _ in range(n):
            self.sent += 1
            receipt = await self.app.proposals.submit(
                self.agent, "notice.create_draft", draft(self.sent, self.tag))
            assert receipt.status == "executed", receipt

    async def sequential(self, n: int) -> float:
        start = time.perf_counter()
        await self.run(n)
        return n / (time.perf_counter() - start)

    async def concurrent(self, n: int, callers: int = CALLERS) -> float:
        each = n // callers
        workers = [Proposer(self.app, self.agent, f"{self.tag}-{self.sent}-{c}")
                   for c in range(callers)]
        self.sent += 1
        start = time.perf_counter()
        await asyncio.gather(*(w.run(each) for w in workers))
        return each * callers / (time.perf_counter() - start)


def raw_commits(conn: sqlite3.Connection, n: int) -> float:
    """The one-row floor: an event-shaped row per transaction."""
    start = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO events (event_id, aggregate_id, payload) VALUES (?, ?, ?)",
                     (f"e{i}-{time.perf_counter_ns()}", "a", f'{{"i": {i}}}'))
        conn.execute("COMMIT")
    return n / (time.perf_counter() - start)


def raw_db(path: Path) -> sqlite3.Connection:
    conn = plain_connection(path)
    conn.execute("CREATE TABLE events (position INTEGER PRIMARY KEY, event_id TEXT, "
                 "aggregate_id TEXT, payload TEXT)")
    return conn


class Floor:
    """Captured transactions replayed round by round on their own copy."""

    def __init__(self, path: Path, rounds: list[list[Transaction]]) -> None:
        self.conn = plain_connection(path)
        self.rounds = rounds
        self.next = 0

    def run(self) -> float:
        txns = self.rounds[self.next]
        self.next += 1
        start = time.perf_counter()
        replay(self.conn, txns)
        return sum(t.commands for t in txns) / (time.perf_counter() - start)


def split(txns: list[Transaction], rounds: int) -> list[list[Transaction]]:
    size = len(txns) // rounds
    return [txns[r * size:(r + 1) * size] for r in range(rounds)]


async def capture_phase(folder: Path, base: Path, rounds: int, n: int, m: int
                        ) -> tuple[list[list[Transaction]], list[list[Transaction]], Path,
                                   list[Row]]:
    """Record signoff's writer statements, sequential then under 16 callers;
    measure the Python in the writer against the replay of each round."""
    rows: list[Row] = []
    python_us: list[float] = []
    python_x16_us: list[float] = []
    # No trace callback: it would make SQLite expand every statement's text,
    # work counted as signoff's Python here though signoff never pays it.
    with capturing(trace=False) as cap:
        app, agent = await open_app(copy_db(base, folder / "capture.db"))
        proposer = Proposer(app, agent, "capture")
        try:
            seq = await _record(cap, rounds, lambda: proposer.run(n),
                                copy_db(base, folder / "python-floor.db"), python_us)
            x16_base = copy_db(folder / "capture.db", folder / "x16-base.db")
            x16 = await _record(cap, rounds, lambda: proposer.concurrent(m),
                                copy_db(x16_base, folder / "python-floor-x16.db"),
                                python_x16_us)
        finally:
            await app.close()
    batch = statistics.mean(t.commands for r in x16 for t in r)
    rows.append(value_row(BENCH, "Python inside the writer transaction per allowed command "
                          "(sequential)", python_us, "µs", at_most(300),
                          how="writer BEGIN..COMMIT minus the same statements replayed"))
    # Under 16 callers the event loop's thread runs the other callers' Python
    # meanwhile, so the writer's time beyond its SQL includes waiting for the GIL.
    rows.append(value_row(BENCH, f"writer time beyond its SQL per command, {CALLERS} callers "
                          "(GIL waits included)", python_x16_us, "µs",
                          commands_per_commit_captured=round(batch, 2)))
    return seq, x16, x16_base, rows


async def _record(cap: Capture, rounds: int, work: Any, floor_path: Path,
                  python_us: list[float]) -> list[list[Transaction]]:
    conn = plain_connection(floor_path)
    out: list[list[Transaction]] = []
    for r in range(rounds):
        cap.clear()
        cap.recording = True
        await work()
        cap.recording = False
        txns = cap.transactions()
        out.append(txns)
        replayed = replay(conn, txns)
        per_command = [(t.busy - b) / t.commands for t, b in zip(txns, replayed, strict=True)]
        python_us.append(statistics.median(per_command) * 1e6)
        err.print(f"  captured round {r + 1}/{rounds}: {len(txns)} transactions, "
                  f"Python in the writer {python_us[-1]:,.0f} µs/command")
    conn.close()
    return out


async def main() -> None:
    args = parser(__doc__).parse_args()
    rounds = args.rounds or (5 if args.quick else 9)
    n = 100 if args.quick else 300
    m = CALLERS * (10 if args.quick else 30)
    with workdir(args.dir) as folder:
        rows = await run(folder, rounds, n, m)
    emit(rows, args.json, "signoff write path")


async def run(folder: Path, rounds: int, n: int, m: int) -> list[Row]:
    err.print("[bold]core: the base database[/bold]")
    app, agent = await open_app(fresh(folder, "base.db"))
    await Proposer(app, agent, "warmup").run(50)
    await app.close()
    err.print("[bold]core: capture signoff's statements[/bold]")
    seq_txns, x16_txns, x16_base, rows = await capture_phase(
        folder, folder / "base.db", rounds, n, m)

    app, agent = await open_app(copy_db(folder / "base.db", folder / "subject.db"))
    subject = Proposer(app, agent, "subject")
    raw = raw_db(fresh(folder, "raw.db"))
    floor = Floor(copy_db(folder / "base.db", folder / "floor.db"), seq_txns)
    floor_x16 = Floor(copy_db(x16_base, folder / "floor-x16.db"), x16_txns)
    peer = peer_es.Peer(fresh(folder, "peer.db")) if peer_es.available() else None
    m_floor = sum(t.commands for t in x16_txns[0])
    x16_commits: list[int] = []

    async def signoff_x16() -> float:
        # Commits counted over this arm alone: the sequential arm's one
        # command per commit would drag the figure towards 1.
        before = app.store.batches
        rate = await subject.concurrent(m)
        x16_commits.append(app.store.batches - before)
        return rate

    arms: dict[str, Any] = {
        "raw": lambda: raw_commits(raw, n),
        "floor": floor.run,
        "signoff": lambda: subject.sequential(n),
        "floor_x16": floor_x16.run,
        "signoff_x16": signoff_x16,
    }
    if peer is not None:
        peer.sequential(50)  # warm-up, like signoff's
        arms["peer"] = lambda: peer.sequential(n)
        arms["peer_x16"] = lambda: peer.concurrent(m, CALLERS)
    err.print(f"[bold]core: {rounds} alternating rounds ({n} sequential, {m} / {m_floor} "
              f"under {CALLERS} callers)[/bold]")
    try:
        got = await alternate(arms, rounds)
    finally:
        await app.close()
        raw.close()
        if peer is not None:
            peer.close()
    per_commit = len(x16_commits) * m / sum(x16_commits) if sum(x16_commits) else 0.0
    rows += [
        ratio_row(BENCH, "sequential allowed commands ÷ signoff's own SQL replayed",
                  ("signoff", got["signoff"]), ("floor", got["floor"]), at_least(0.9),
                  unit="cmd/s"),
        ratio_row(BENCH, "sequential allowed commands ÷ raw one-row commits",
                  ("signoff", got["signoff"]), ("raw", got["raw"]), unit="cmd/s"),
        ratio_row(BENCH, "signoff's own SQL replayed ÷ raw one-row commits",
                  ("floor", got["floor"]), ("raw", got["raw"]), unit="cmd/s"),
        ratio_row(BENCH, f"{CALLERS} callers ÷ signoff's own SQL replayed in its batches",
                  ("signoff_x16", got["signoff_x16"]), ("floor_x16", got["floor_x16"]),
                  unit="cmd/s", commands_per_commit=round(per_commit, 2)),
    ]
    if peer is not None:
        rows += [
            ratio_row(BENCH, "sequential ÷ eventsourcing sequential",
                      ("signoff", got["signoff"]), ("peer", got["peer"]), at_least(0.8),
                      unit="cmd/s", peer=f"eventsourcing, {peer.journal_mode}, "
                      f"synchronous={peer.synchronous}"),
            ratio_row(BENCH, f"{CALLERS} callers ÷ eventsourcing {CALLERS} callers",
                      ("signoff_x16", got["signoff_x16"]), ("peer_x16", got["peer_x16"]),
                      at_least(2), unit="cmd/s", peer=f"eventsourcing, {CALLERS} threads"),
        ]
    else:
        err.print("[yellow]eventsourcing is not installed (pip install -e '.[bench]'): "
                  "the peer rows are skipped[/yellow]")
    rows.append(value_row(BENCH, f"commands per commit, {CALLERS} callers (timed rounds)",
                          [per_commit], "cmd"))
    for name in ("signoff", "signoff_x16", "floor", "raw", "peer", "peer_x16"):
        if name in got:
            rows.append(value_row(BENCH, f"throughput: {name}", got[name], "cmd/s"))
    return rows


if __name__ == "__main__":
    asyncio.run(main())
