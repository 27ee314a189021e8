"""Run every benchmark and print the table the README shows.

    python bench/run.py --quick        # a few minutes, small sizes
    python bench/run.py                # the full run (1 000 000 proposals seeded)
    python bench/run.py --only core,mcp --markdown --out results.json

Each bench runs in its own process with `--json`; its progress goes to
stderr, its rows are collected. The table: measure, now (the median of the
per-round ratios, or the measured value) with its spread (min-max over the
rounds), the goal from issue 13, and whether it is met. The machine's load
average is printed beside each bench: these figures are only as quiet as the
machine was.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
BENCHES: dict[str, list[str]] = {
    "core": ["bench_core.py"],
    "footprint": ["bench_footprint.py"],
    "scale": ["bench_scale.py"],
    "mcp": ["bench_mcp.py", "--all"],
    "delivery": ["bench_delivery.py"],
    "policy": ["bench_policy.py"],
    "gateway": ["bench_gateway.py"],
    "postgres": ["bench_postgres.py"],
    "search": ["bench_search.py"],
    "context": ["bench_context.py"],
    "export": ["bench_export.py"],
}
# Rows shown without a goal of their own: the floors side by side, batching.
ALSO_SHOWN = ("÷ raw one-row", "own SQL replayed in its batches", "commands per commit",
              "latency, ", "16 callers", "p99", "lag p50", "serve process", "CPU during",
              "÷ bare FTS5")


def run_bench(name: str, quick: bool, extra: list[str]) -> tuple[list[dict[str, Any]], float,
                                                               tuple[float, float]]:
    script, *flags = BENCHES[name]
    command = [sys.executable, str(HERE / script), "--json", *flags, *extra]
    if quick:
        command.append("--quick")
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
    elapsed = time.perf_counter() - started
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0:
        rows.append({"bench": name, "measure": f"{script} exited {done.returncode}",
                     "now": float("nan"), "unit": "", "spread": {}, "rounds": 0,
                     "goal_text": "", "met": False, "detail": {}, "failed": True})
    return rows, elapsed, (load_before, os.getloadavg()[0])


def now_text(row: dict[str, Any]) -> str:
    def fmt(value: float) -> str:
        if row["unit"] == "×":
            return f"{value:.2f}"
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"

    text = fmt(row["now"]) + ("" if row["unit"] == "×" else f" {row['unit']}")
    spread = row.get("spread") or {}
    if spread and row.get("rounds", 0) > 1:
        text += f" ({fmt(spread['min'])}–{fmt(spread['max'])})"
    return text


def shown(row: dict[str, Any], everything: bool) -> bool:
    if everything or row.get("goal_text") or row.get("failed"):
        return True
    measure = row["measure"]
    return not measure.startswith("throughput") and any(p in measure for p in ALSO_SHOWN)


def table(rows: list[dict[str, Any]], everything: bool, title: str) -> Table:
    out = Table("measure", "now (min–max over rounds)", "goal", "", title=title)
    for row in rows:
        if shown(row, everything):
            mark = {True: "[green]met[/]", False: "[red]not met[/]", None: ""}[row.get("met")]
            out.add_row(row["measure"], now_text(row), row.get("goal_text", ""), mark)
    return out


def markdown(rows: list[dict[str, Any]], everything: bool) -> str:
    lines = ["| measure | now | goal |", "|---|---|---|"]
    for row in rows:
        if shown(row, everything):
            met = {True: " ✓", False: " ✗", None: ""}[row.get("met")]
            lines.append(f"| {row['measure']} | {now_text(row)} | "
                         f"{row.get('goal_text', '')}{met} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, a few minutes")
    parser.add_argument("--only", default="", help=f"comma-separated: {', '.join(BENCHES)}")
    parser.add_argument("--out", type=Path, default=None, help="write every row as JSON")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table too")
    parser.add_argument("--all-rows", action="store_true", help="show every row")
    args = parser.parse_args()
    chosen = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHES)
    unknown = set(chosen) - set(BENCHES)
    if unknown:
        parser.error(f"unknown bench(es): {', '.join(sorted(unknown))}")
    console = Console(stderr=True)
    rows: list[dict[str, Any]] = []
    runs: dict[str, Any] = {}
    for name in chosen:
        console.rule(f"[bold]{name}[/bold]")
        got, elapsed, load = run_bench(name, args.quick, [])
        rows += got
        runs[name] = {"seconds": round(elapsed, 1), "load_before": load[0], "load_after": load[1]}
        console.print(f"{name}: {elapsed:,.0f} s, load average {load[0]:.1f} → {load[1]:.1f}")
    machine = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
               "cpus": os.cpu_count(), "platform": platform.platform(), "runs": runs,
               "quick": args.quick}
    if args.out:
        args.out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=1))
    loads = ", ".join(f"{n} {r['load_before']:.1f}" for n, r in runs.items())
    title = (f"signoff benchmarks{' (--quick)' if args.quick else ''}: {machine['cpus']} CPUs, "
             f"load average at start of each bench: {loads}")
    Console(width=None if sys.stdout.isatty() else 150).print(table(rows, args.all_rows, title))
    if args.markdown:
        print(markdown(rows, args.all_rows))
    return 1 if any(r.get("failed") for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
