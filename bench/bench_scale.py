"""Does the write path stay flat as the store grows? Small and large stores,
rounds interleaved.

    python bench/bench_scale.py [--quick] [--json] [--rounds N] [--size N]

Two stores, both open at once: one with ~1 000 proposals and events, one
grown to `--size` (1 000 000 in the full run, 20 000 with --quick) by bulk
SQL in the real schema (seeding.py: clones of a real allowed command's rows,
all from the last hour and from the same agent, so the rate limits see a
million proposals in their hour). Rounds interleave the sizes (small, large,
small, large, ...): each round times sequential allowed commands and
queries (`get_case_summary` of a case the clones do not touch, and
`list_cases`) on each store; the ratios are large ÷ small per round.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import seeding
from bench_core import Proposer
from benchlib import copy_db, emit, err, fresh, open_app, parser, workdir
from rounds import Row, alternate, at_most, ratio_row

from signoff.policies import PrincipalFacts
from signoff.server.app import App

BENCH = "scale"
SMALL = 1_000


async def grown(folder: Path, name: str, proposals: int) -> Path:
    """A store with about `proposals` proposals (and as many events)."""
    path = fresh(folder, name)
    app, agent = await open_app(path)
    await Proposer(app, agent, f"{name}-warm").run(5)
    await app.close()
    before = copy_db(path, fresh(folder, f"{name}.before"))
    app, agent = await open_app(path)
    await Proposer(app, agent, f"{name}-template").run(1)
    have = (await counts(app))["proposals"]
    await app.close()
    clones = max(proposals - have, 0)
    err.print(f"[bold]scale: seeding {name} with {clones:,} commands' rows[/bold]")
    started = time.perf_counter()
    added = seeding.clone_template(path, before, clones)
    err.print(f"  {name}: {clones:,} clones of {added} in {time.perf_counter() - started:,.0f} s")
    fresh(before.parent, before.name)  # the template's copy, no longer needed
    return path


async def command_ms(proposer: Proposer, n: int) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await proposer.run(1)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


async def query_ms(app: App, agent: PrincipalFacts, name: str, args: dict[str, Any],
                   n: int) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await app.queries.run(agent, name, args)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


async def counts(app: App) -> dict[str, int]:
    def read(uow: Any) -> dict[str, int]:
        return {t: int(uow.sql.one(f"SELECT COUNT(*) FROM {t}")[0])
                for t in ("proposals", "events")}

    out: dict[str, int] = await app.store.read(read)
    return out


async def run(folder: Path, rounds: int, size: int, n: int, q: int) -> list[Row]:
    small_path = await grown(folder, "small.db", SMALL)
    large_path = await grown(folder, "large.db", size)
    small, small_agent = await open_app(small_path, seed=False)
    large, large_agent = await open_app(large_path, seed=False)
    sizes = {"small": await counts(small), "large": await counts(large)}
    err.print(f"  stores: {sizes}")
    proposers = {"small": Proposer(small, small_agent, "s"),
                 "large": Proposer(large, large_agent, "l")}
    apps = {"small": (small, small_agent), "large": (large, large_agent)}
    for p in proposers.values():
        await p.run(20)  # warm caches on both sides alike
    summary = {"case_id": "case-acme-001"}
    arms: dict[str, Any] = {}
    # Sizes alternate in the arms' order (small, large, small, ...), and so
    # in every round whatever arm it starts with.
    for label in ("small", "large"):
        arms[f"{label}_cmd"] = lambda p=proposers[label]: command_ms(p, n)
    for label in ("small", "large"):
        app, agent = apps[label]
        arms[f"{label}_summary"] = lambda a=app, g=agent: query_ms(
            a, g, "get_case_summary", summary, q)
    for label in ("small", "large"):
        app, agent = apps[label]
        arms[f"{label}_list"] = lambda a=app, g=agent: query_ms(a, g, "list_cases", {}, q)
    err.print(f"[bold]scale: {rounds} rounds, sizes interleaved[/bold]")
    try:
        got = await alternate(arms, rounds)
    finally:
        await small.close()
        await large.close()
    shown = f"{sizes['large']['proposals']:,}"
    detail: dict[str, Any] = {"stores": sizes}
    return [
        ratio_row(BENCH, f"command latency with {shown} proposals in the last hour ÷ "
                  f"{sizes['small']['proposals']:,}", ("large", got["large_cmd"]),
                  ("small", got["small_cmd"]), at_most(1.2), unit="ms", **detail),
        ratio_row(BENCH, f"get_case_summary latency, {shown} ÷ small",
                  ("large", got["large_summary"]), ("small", got["small_summary"]),
                  unit="ms", **detail),
        ratio_row(BENCH, f"list_cases latency, {shown} ÷ small",
                  ("large", got["large_list"]), ("small", got["small_list"]),
                  unit="ms", **detail),
    ]


async def main() -> None:
    p = parser(__doc__)
    p.add_argument("--size", type=int, default=None, help="proposals in the large store")
    args = p.parse_args()
    rounds = args.rounds or (5 if args.quick else 9)
    size = args.size or (20_000 if args.quick else 1_000_000)
    with workdir(args.dir) as folder:
        rows = await run(folder, rounds, size, 30 if args.quick else 60,
                         50 if args.quick else 100)
    emit(rows, args.json, "scale: small store vs large, interleaved")


if __name__ == "__main__":
    asyncio.run(main())
