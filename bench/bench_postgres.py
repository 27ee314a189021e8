"""Does signoff scale out on PostgreSQL? 1, 2 and 3 serve processes on one
database, one on SQLite, and raw inserts, rounds alternating.

    python bench/bench_postgres.py [--quick] [--json] [--rounds N] [--seconds S] [--clients 32]

Three `signoff serve --transport http` processes on one scratch PostgreSQL
schema and one on a SQLite file (the bench policy: create_notice_draft is
allowed and executes), each with `--clients` real MCP clients connected once
and kept. Every round runs each arm once, for the same seconds, at the same
concurrency: "pg x1" (all clients on process 1), "pg x2" (split over 1 and
2), "pg x3" (11 + 11 + 10), "sqlite x1", and "raw": as many psycopg
connections in threads, each doing one-row INSERT transactions (autocommit,
the server's synchronous_commit) into a scratch table, the physical floor.
Each arm's figure is accepted proposals (or rows) per second, counting only
calls finishing inside the window; the ratios are per round, their median
reported. CPU use over each window (/proc) is reported beside them: the
machine's busy share and PostgreSQL's, as % of all cores. Afterwards every
accepted receipt's proposal must be in PostgreSQL exactly once.

PostgreSQL is the one the tests use (127.0.0.1:5432, database test;
SIGNOFF_TEST_PG names another); where none answers the bench prints no rows
and says why on stderr. The scratch schema is dropped at the end.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any, TextIO, TypeVar

import anyio
import cpu
import pg_load
from anyio.abc import Process
from benchlib import bench_policy, emit, err, parser, workdir
from mcp_load import TOKEN, Round, free_port
from quiet import Quiet as SqliteQuiet
from rounds import Row, alternate, at_least, at_most, ratio_row, value_row

BENCH = "postgres"
PG = ("pg1", "pg2", "pg3")
ARMS = ("pg x1", "pg x2", "pg x3", "sqlite x1", "raw")
T = TypeVar("T")
TITLE = "signoff on PostgreSQL: serve processes side by side, SQLite and raw inserts"


class Bench:
    def __init__(self, folder: Path, url: str, clients: int, seconds: float) -> None:
        self.folder, self.url, self.clients, self.seconds = folder, url, clients, seconds
        self.sqlite = folder / "sqlite.db"
        self.pools: dict[str, pg_load.Pool] = {}
        self.pids: dict[str, list[int]] = {"signoff": [], "driver": [os.getpid()]}
        self.cpu: dict[str, list[dict[str, float]]] = {arm: [] for arm in ARMS}
        self.p50_ms: dict[str, list[float]] = {arm: [] for arm in ARMS}
        self.receipts: list[str] = []  # every accepted PostgreSQL receipt, counted or not
        self.refusals: list[str] = []
        self.preexisting: set[str] = set()
        self.rounds = 0
        self.raw = pg_load.RawInserts(url, clients)
        self.pg_quiet = pg_load.Quiet(url)
        self.sqlite_quiet = SqliteQuiet(self.sqlite)
        self._logs: list[TextIO] = []

    def arms(self) -> dict[str, Callable[[], Awaitable[float]]]:
        return {"pg x1": lambda: self.pg_round(1), "pg x2": lambda: self.pg_round(2),
                "pg x3": lambda: self.pg_round(3), "sqlite x1": self.sqlite_round,
                "raw": self.raw_round}

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Bench]:
        processes: list[Process] = []
        try:
            async with anyio.create_task_group() as tasks:
                for name in (*PG, "sqlite"):  # one at a time: the first migrates and seeds
                    port = free_port()
                    processes.append(await self._serve(name, port))
                    await _wait_for(port, processes[-1], self.folder / f"{name}.log")
                    self.pools[name] = pg_load.Pool(f"http://127.0.0.1:{port}/mcp", self.clients)
                    await self.pools[name].start(tasks)
                self.pids["signoff"] = [p.pid for p in processes]
                self.preexisting = pg_load.stored_proposals(self.url)
                self.raw.open()
                try:
                    await self._warm_up()
                    yield self
                finally:
                    for pool in self.pools.values():
                        await pool.close()
                    self.raw.close()
                    self.pg_quiet.close()
                    self.sqlite_quiet.close()
        finally:
            for process in processes:
                if process.returncode is None:
                    with suppress(ProcessLookupError):  # exited meanwhile
                        process.terminate()
            for process in processes:
                with anyio.fail_after(60):
                    await process.wait()
            for log in self._logs:
                log.close()

    async def _warm_up(self) -> None:
        """Every arm once, at most 2 s, not counted (its receipts are still checked)."""
        seconds, self.seconds = self.seconds, min(self.seconds, 2.0)
        for run in self.arms().values():
            await self.settle()
            await run()
        self.seconds = seconds
        for name in ARMS:
            self.cpu[name].clear()
            self.p50_ms[name].clear()

    async def _serve(self, name: str, port: int) -> Process:
        tokens = self.folder / "tokens.toml"
        tokens.write_text(f'[[token]]\nsha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"'
                          '\nprincipal = "agent:triage"\ntenant = "acme"\n')
        db = str(self.sqlite) if name == "sqlite" else self.url
        log = (self.folder / f"{name}.log").open("w")
        self._logs.append(log)
        return await anyio.open_process(
            [sys.executable, "-m", "signoff.server.cli", "serve", "--transport", "http",
             "--port", str(port), "--db", db, "--demo", "--tokens", str(tokens),
             "--policy", str(bench_policy(self.folder))],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)

    async def settle(self) -> float:
        """Let every server's background writes (runtime log, relay, projector)
        stop before the next arm, so none lands on another arm's window."""
        return await self.pg_quiet.settle() + await self.sqlite_quiet.settle()

    async def pg_round(self, processes: int) -> float:
        pools = [self.pools[name] for name in PG[:processes]]
        done = await self._window(f"pg x{processes}", lambda: pg_load.run_split(
            pools, pg_load.split(self.clients, processes), self._tag(), self.seconds))
        self.receipts += [r for current in done for r in current.accepted + current.late_receipts]
        return self._rate(f"pg x{processes}", done)

    async def sqlite_round(self) -> float:
        done = await self._window("sqlite x1", lambda: pg_load.run_split(
            [self.pools["sqlite"]], [self.clients], self._tag(), self.seconds))
        return self._rate("sqlite x1", done)

    def _rate(self, arm: str, done: list[Round]) -> float:
        """Accepted proposals per second of the window; refusals and latency kept."""
        self.refusals += [r[:200] for current in done for r in current.refusals]
        latencies = [t for current in done for t in current.latencies]
        if latencies:
            self.p50_ms[arm].append(statistics.median(latencies) * 1000)
        return sum(len(current.accepted) for current in done) / self.seconds

    async def raw_round(self) -> float:
        rows = await self._window("raw", lambda: anyio.to_thread.run_sync(
            self.raw.run, self.seconds))
        return rows / self.seconds

    def _tag(self) -> str:
        self.rounds += 1
        return f"r{self.rounds}"

    async def _window(self, arm: str, work: Callable[[], Awaitable[T]]) -> T:
        """`work`'s result, with the CPU shares from its start to the deadline."""
        before = cpu.sample(self.pids)

        async def at_deadline() -> None:
            await anyio.sleep(self.seconds)
            self.cpu[arm].append(cpu.shares(before, cpu.sample(self.pids)))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(at_deadline)
            result = await work()
        return result

    def check(self) -> dict[str, Any]:
        """Every receipt's proposal stored once, nothing stored unreceipted."""
        stored = pg_load.stored_proposals(self.url) - self.preexisting
        receipts = set(self.receipts)
        return {"receipts": len(self.receipts), "stored": len(stored),
                "lost": len(receipts - stored), "duplicated": len(self.receipts) - len(receipts),
                "unreceipted_in_db": len(stored - receipts), "refused": len(self.refusals),
                "refusals": sorted(set(self.refusals))[:3]}


async def _wait_for(port: int, process: Process, log: Path) -> None:
    """Until `port` accepts connections; the log's tail if the server died first."""
    with anyio.move_on_after(120):
        while process.returncode is None:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.05)
                continue
            await stream.aclose()
            return
    tail = (await anyio.Path(log).read_text())[-2000:]
    raise SystemExit(f"no signoff serve came up on port {port} ({log.name}):\n{tail}")


def cpu_rows(got: dict[str, list[dict[str, float]]]) -> list[Row]:
    rows = []
    for arm, runs in got.items():
        for group, what in (("machine", "machine busy"), ("postgres", "postgres processes")):
            medians = {g: round(statistics.median(r[g] for r in runs), 1) for g in runs[0]}
            rows.append(value_row(BENCH, f"CPU during {arm}: {what} (% of all cores)",
                                  [r[group] for r in runs], "%", cores=os.cpu_count(),
                                  medians=medians))
    return rows


def report(bench: Bench, got: dict[str, list[float]], check: dict[str, Any],
           load: tuple[float, float]) -> list[Row]:
    n = bench.clients
    common: dict[str, Any] = {"unit": "calls/s", "clients": n, "seconds": bench.seconds,
                              "load_average": load}

    def ratio(measure: str, subject: str, baseline: str, goal: Any = None) -> Row:
        return ratio_row(BENCH, f"PG, {n} clients: {measure}", (subject, got[subject]),
                         (baseline, got[baseline]), goal, **common)

    raw = {"synchronous_commit": bench.raw.synchronous_commit}
    rows = [
        ratio("3 ÷ 1 serve processes (scaling efficiency)", "pg x3", "pg x1", at_least(1.5)),
        ratio("2 ÷ 1 serve processes", "pg x2", "pg x1"),
        ratio("1 PostgreSQL ÷ 1 SQLite serve process", "pg x1", "sqlite x1"),
        ratio("1 serve process ÷ raw one-row inserts", "pg x1", "raw"),
        ratio("3 serve processes ÷ raw one-row inserts", "pg x3", "raw"),
    ]
    rows[-1].detail.update(raw)
    rows[-2].detail.update(raw)
    rows += [value_row(BENCH, f"throughput, {arm}: {'rows' if arm == 'raw' else 'allowed'}/s",
                       got[arm], "/s", p50_ms=[round(v, 1) for v in bench.p50_ms[arm]])
             for arm in ARMS]
    rows += cpu_rows(bench.cpu)
    rows.append(value_row(BENCH, "PG: proposals lost + duplicated + unreceipted",
                          [float(check["lost"] + check["duplicated"]
                                 + check["unreceipted_in_db"])], "proposals", at_most(0),
                          **check))
    return rows


def show_cpu(got: dict[str, list[dict[str, float]]]) -> None:
    for arm, runs in got.items():
        medians = {g: statistics.median(r[g] for r in runs) for g in runs[0]}
        err.print(f"  CPU {arm:>9}: " + "  ".join(f"{g} {v:.0f}%" for g, v in medians.items()))


async def measure(folder: Path, url: str, rounds: int, clients: int,
                  seconds: float) -> list[Row]:
    bench = Bench(folder, url, clients, seconds)
    load_before = os.getloadavg()[0]
    err.print(f"[bold]postgres: {rounds} rounds x {len(ARMS)} arms, {clients} clients x "
              f"{seconds:g} s, load average {load_before:.1f}[/bold]")
    async with bench.running():
        got = await alternate(dict(bench.arms().items()), rounds, between=bench.settle)
        check = bench.check()
    load = (load_before, os.getloadavg()[0])
    show_cpu(bench.cpu)
    err.print(f"  load average {load[0]:.1f} → {load[1]:.1f}; receipts {check['receipts']}, "
              f"lost {check['lost']}, duplicated {check['duplicated']}, "
              f"refused {check['refused']}")
    return report(bench, got, check, load)


async def main() -> None:
    p = parser(__doc__)
    p.add_argument("--seconds", type=float, default=None, help="each arm's window")
    p.add_argument("--clients", type=int, default=32)
    args = p.parse_args()
    rounds = args.rounds or (5 if args.quick else 7)
    seconds = args.seconds or (2.0 if args.quick else 10.0)
    server = pg_load.server_url()
    if (why := pg_load.unreachable(server)) is not None:
        err.print(f"postgres bench skipped: {why}")
        emit([], args.json, TITLE)
        return
    schema = pg_load.new_schema()
    started = time.perf_counter()
    try:
        with workdir(args.dir) as folder:
            rows = await measure(folder, pg_load.schema_url(server, schema), rounds,
                                 args.clients, seconds)
    finally:
        pg_load.drop_schema(server, schema)
    err.print(f"  {time.perf_counter() - started:,.0f} s; schema {schema} dropped")
    emit(rows, args.json, TITLE)


if __name__ == "__main__":
    asyncio.run(main())
