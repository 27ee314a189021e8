"""What the benchmark scripts share (run as `python bench/<name>.py`, so this
module is importable as `benchlib`): fresh database files, the bench policy,
an app on a file, the common flags, and printing rows as a table or JSON."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rounds import Row

from signoff.policies import PrincipalFacts
from signoff.server.app import App, Settings, build_app, example_file

err = Console(stderr=True, highlight=False)
DRAFT_CASE = "case-acme-002"


def fresh(folder: Path, name: str) -> Path:
    """A database path in `folder` with no file (nor WAL) left from a run before."""
    path = folder / name
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def copy_db(source: Path, target: Path) -> Path:
    """A consistent copy of a live database (the backup API, so a writer may
    hold it open), as a fresh file in WAL mode."""
    fresh(target.parent, target.name)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = WAL")
    src.close()
    dst.close()
    return target


def bench_policy(folder: Path) -> Path:
    """The demo policy without its rate limits: benchmarks propose far more
    than 500 times an hour on purpose. Removed rather than raised: with a
    limit set, one principal's proposals count before they are judged and so
    wait for each other (exact limits across processes), which a one-agent
    benchmark would measure instead of the write path."""
    text = example_file("policy.toml").read_text()
    text = re.sub(r"(?m)^(proposals_per_run|per_agent_per_hour)\s*=.*\n", "", text)
    path = folder / "bench-policy.toml"
    path.write_text(text)
    return path


async def open_app(path: Path, *, seed: bool = True) -> tuple[App, PrincipalFacts]:
    """The casework app on `path` (seeded with the demo data if empty), and
    the triage agent that proposes in the benchmarks."""
    app = await build_app(Settings(db=path, policy=bench_policy(path.parent)))
    if seed:
        await app.seed_if_empty()
    record = app.principals.get("agent:triage")
    assert record is not None
    return app, record.facts("acme")


def draft(n: int, tag: str) -> dict[str, Any]:
    """An auto-approved notice draft, as an agent sends it (evidence,
    rationale, confidence and an idempotency key): a new aggregate per call."""
    return {"case_id": DRAFT_CASE, "body": f"Benchmark notice {n}.", "rationale": "measuring",
            "evidence_refs": ["ev-acme-002-a"], "confidence": 0.9,
            "idempotency_key": f"{tag}-{n}"}


def parser(doc: str | None) -> argparse.ArgumentParser:
    """The flags every bench takes."""
    out = argparse.ArgumentParser(description=doc,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    out.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    out.add_argument("--json", action="store_true", help="one JSON object per row")
    out.add_argument("--rounds", type=int, default=None, help="alternating rounds (>= 5)")
    out.add_argument("--dir", type=Path, default=None, help="where the databases go (kept)")
    return out


@contextmanager
def workdir(given: Path | None) -> Iterator[Path]:
    """`given` (kept afterwards), else a temporary folder removed at the end."""
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    folder = Path(tempfile.mkdtemp(prefix="signoff-bench-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def fmt(value: float, unit: str = "") -> str:
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}" if value else "0"
    return f"{text} {unit}".rstrip() if unit != "×" else f"{value:.2f}"


def emit(rows: Iterable[Row], as_json: bool, title: str) -> None:
    """Rows as JSON lines on stdout, or as a table."""
    rows = list(rows)
    if as_json:
        for row in rows:
            sys.stdout.write(json.dumps(row.as_json()) + "\n")
        return
    table = Table("measure", "now", "spread (min–max)", "goal", "", "rounds", title=title)
    for row in rows:
        spread = (f"{fmt(row.spread['min'], row.unit)}–{fmt(row.spread['max'], row.unit)}"
                  if row.spread else "")
        mark = {True: "[green]met[/]", False: "[red]not met[/]", None: ""}[row.met]
        table.add_row(row.measure, fmt(row.now, row.unit), spread,
                      str(row.goal or ""), mark, str(row.rounds or ""))
    Console(width=None if sys.stdout.isatty() else 160).print(table)
