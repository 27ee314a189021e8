"""How fast is `signoff export decisions`, relative to a raw dump of the same rows?

    python bench/bench_export.py [--quick] [--json] [--rounds N] [--size N]

A store of `--size` decided proposals (100 000; 10 000 with --quick), grown
by bulk SQL from one real agent run (bench/seeding.py): through a real MCP
client, the triage agent reads a case (a query, kept in the runtime log with
its arguments and result) and drafts a notice (allowed, executed), so every
clone is a run with a query and a proposal, its decision, lifecycle and
runtime-log rows as the write path made them.

Two arms, alternated each round and written to a file:

- export: `export_decisions` as the CLI runs it (pages in keyset order, each
  page's decisions, votes and runs' calls read in batches, the line built,
  redacted and dumped);
- raw: one SELECT of each proposal's document with its first decision's,
  paged by the same keyset, each row's two documents parsed and dumped as a
  line: the least any JSON export of those rows must do.

Both run with the cycle collector paused, as `signoff export` runs.

Reported: the export's rate ÷ the raw rate (proposals per second), goal
≥ 0.3 (issue 15); the export reads more (the run's calls, votes) and writes
more (what the agent read, the policy input, the verdict) per line.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sqlite3
import time
from pathlib import Path
from typing import Any, cast

import seeding
from benchlib import DRAFT_CASE, copy_db, emit, err, fresh, open_app, parser, workdir
from mcp import Client
from mcp_types import RequestParamsMeta
from rounds import Row, alternate, at_least, ratio_row, value_row

from signoff.server.app import App
from signoff.server.mcp import FixedIdentity, build_server
from signoff.server.observability import domain_sensitive_fields
from signoff.server.ops import Selection, export_decisions

BENCH = "export"
GOAL = 0.3
PAGE = 500


async def agent_run(app: App, tag: str) -> None:
    """One run through a real client: a query, then an allowed draft."""
    record = app.principals.get("agent:triage")
    assert record is not None
    server = build_server(app, FixedIdentity(record.facts("acme")))
    meta = cast(RequestParamsMeta, {"signoff/run_id": app.ids("run")})
    async with server.running(), Client(server) as client:
        await client.call_tool("get_case_summary", {"case_id": DRAFT_CASE}, meta=meta)
        draft = await client.call_tool("create_notice_draft", {
            "case_id": DRAFT_CASE, "body": f"Benchmark notice {tag}.", "rationale": "measuring",
            "evidence_refs": ["ev-acme-002-a"], "confidence": 0.9,
            "idempotency_key": f"{tag}-draft"}, meta=meta)
        assert (draft.structured_content or {}).get("status") == "executed", draft
        await server.runtime_log.flush()


async def grown(folder: Path, size: int) -> Path:
    path = fresh(folder, "export.db")
    app, _ = await open_app(path)
    await agent_run(app, "warm")
    await app.close()
    before = copy_db(path, fresh(folder, "export.before.db"))
    app, _ = await open_app(path)
    await agent_run(app, "template")
    await app.close()
    err.print(f"[bold]export: seeding {size - 2:,} agent runs[/bold]")
    seeding.clone_template(path, before, size - 2)
    fresh(before.parent, before.name)
    return path


def raw_dump(path: Path, out: Path) -> int:
    """The baseline: the same proposals and first decisions, parsed and dumped."""
    conn = sqlite3.connect(path)
    written, after = 0, 0
    with out.open("w", encoding="utf-8") as sink:
        while True:
            rows = conn.execute(
                "SELECT p.rowid, p.doc, d.doc FROM proposals AS p JOIN decisions AS d ON "
                "d.rowid = (SELECT MIN(rowid) FROM decisions WHERE proposal_id = p.proposal_id) "
                "WHERE p.rowid > ? ORDER BY p.rowid LIMIT ?", (after, PAGE)).fetchall()
            if not rows:
                break
            for _, proposal, decision in rows:
                line = {"proposal": json.loads(proposal), "decision": json.loads(decision)}
                sink.write(json.dumps(line, ensure_ascii=False) + "\n")
            written += len(rows)
            after = rows[-1][0]
    conn.close()
    return written


async def export(app: App, out: Path) -> tuple[int, int]:
    sensitive = domain_sensitive_fields(app.domain)
    written = size = 0
    with out.open("w", encoding="utf-8") as sink:
        async for line in export_decisions(app.store, Selection(), sensitive):
            sink.write(line.text + "\n")
            written += 1
            size += len(line.text)
    return written, size


async def run(folder: Path, rounds: int, size: int) -> list[Row]:
    path = await grown(folder, size)
    app, _ = await open_app(path, seed=False)
    out = folder / "out.jsonl"
    seen: dict[str, Any] = {}

    # `signoff export` pauses the cycle collector while it writes; both arms
    # run so, the baseline too.
    async def export_arm() -> float:
        gc.disable()
        started = time.perf_counter()
        seen["export"], seen["bytes"] = await export(app, out)
        elapsed = time.perf_counter() - started
        gc.enable()
        return seen["export"] / elapsed

    def raw_arm() -> float:
        gc.disable()
        started = time.perf_counter()
        seen["raw"] = raw_dump(path, out)
        elapsed = time.perf_counter() - started
        gc.enable()
        return seen["raw"] / elapsed

    try:
        got = await alternate({"raw": raw_arm, "export": export_arm}, rounds)
    finally:
        await app.close()
    if seen["export"] != seen["raw"]:
        raise SystemExit(f"the export wrote {seen['export']} lines, the raw dump "
                         f"{seen['raw']}: not the same rows")
    per_line = seen["bytes"] / seen["export"]
    return [
        ratio_row(BENCH, f"export decisions ({seen['export']:,} proposals) ÷ raw SELECT + "
                  "json.dumps, rate", ("export", got["export"]), ("raw", got["raw"]),
                  at_least(GOAL), unit="proposals/s", bytes_per_line=round(per_line)),
        value_row(BENCH, "export decisions, proposals per second", got["export"],
                  "proposals/s"),
    ]


async def main() -> int:
    p = parser(__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--size", type=int, default=None, help="decided proposals in the store")
    args = p.parse_args()
    size = args.size or (10_000 if args.quick else 100_000)
    with workdir(args.dir) as folder:
        rows = await run(folder, args.rounds or 5, size)
    emit(rows, args.json, "export vs a raw dump")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
