"""What one allowed command writes: rows, statements, WAL frames.

    python bench/bench_footprint.py [--quick] [--json] [--dir DIR]

Counts, not timings, so no rounds: `--commands` auto-approved notice drafts
(as an agent sends them) on the demo data, sequentially, then the same under
16 callers (where group commit shares pages between commands). Per command:

  rows written    the writer connection's `total_changes` (inserts, updates,
                  deletes, trigger work included) over the commands;
  rows added      COUNT(*) of every table before and after, by table;
  statements      what the writer connection executed per transaction,
                  BEGIN and COMMIT included, from the recording wrapper, and
                  cross-checked with `set_trace_callback` (trigger repeats
                  folded: see sqlcapture.statements_run);
  WAL frames      the -wal file grown from an empty log (a TRUNCATE
                  checkpoint first, auto-checkpoint off for the count) over
                  page size + 24 bytes of frame header, and the same from
                  `PRAGMA wal_checkpoint`'s log figure.

The same figures for the one-row raw commit and for eventsourcing's command
are printed beside, for scale.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import peer_es
from bench_core import CALLERS, Proposer, raw_commits, raw_db
from benchlib import emit, err, fresh, open_app, parser, workdir
from rounds import Row, at_most, value_row
from sqlcapture import capturing, statements_run

BENCH = "footprint"
FRAME_HEADER, WAL_HEADER = 24, 32


def table_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        counts = {name: conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0]
                  for name in names}
    conn.close()
    return counts


class Wal:
    """Frames appended to a database's WAL from an empty log."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.side = sqlite3.connect(path, isolation_level=None)
        self.page = self.side.execute("PRAGMA page_size").fetchone()[0]

    def empty(self) -> None:
        busy, _, _ = self.side.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise SystemExit("could not empty the WAL (a reader or writer is busy)")

    def frames(self) -> tuple[int, int]:
        """(frames from the file size, frames the checkpointer reports)."""
        size = Path(f"{self.path}-wal").stat().st_size
        by_size = max(size - WAL_HEADER, 0) // (self.page + FRAME_HEADER)
        _, log, _ = self.side.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return by_size, log

    def close(self) -> None:
        self.side.close()


def added(before: dict[str, int], after: dict[str, int], per: int) -> dict[str, float]:
    return {t: (after[t] - before.get(t, 0)) / per for t in after
            if after[t] != before.get(t, 0)}


async def signoff_footprint(folder: Path, k: int, callers: int) -> dict[str, Any]:
    path = fresh(folder, f"footprint-{callers}.db")
    with capturing() as cap:
        app, agent = await open_app(path)
        proposer = Proposer(app, agent, f"fp{callers}")
        wal = Wal(path)
        try:
            await proposer.run(20)
            assert cap.writer is not None
            writer = cap.writer
            writer.execute("PRAGMA wal_autocheckpoint = 0")  # keep every frame to count
            before = table_counts(path)
            wal.empty()
            changes = writer.total_changes
            cap.clear()
            cap.recording = True
            if callers == 1:
                await proposer.run(k)
            else:
                await proposer.concurrent(k, callers)
            cap.recording = False
            changes = writer.total_changes - changes
            by_size, by_log = wal.frames()
            writer.execute("PRAGMA wal_autocheckpoint = 1000")
        finally:
            wal.close()
            await app.close()
        after = table_counts(path)
    txns = cap.transactions()
    commands = sum(t.commands for t in txns)
    assert commands == k, (commands, k)
    per_txn = [len(t.statements) for t in txns]
    return {
        "rows_written": changes / k, "rows_added": sum(added(before, after, k).values()),
        "rows_added_by_table": added(before, after, k),
        "statements": sum(per_txn) / k, "statements_traced": statements_run(cap.trace) / k,
        "statements_per_transaction": sorted(set(per_txn)), "transactions": len(txns),
        "wal_frames": by_size / k, "wal_frames_checkpointer": by_log / k,
        "wal_kib": by_size * (wal.page + FRAME_HEADER) / k / 1024, "page_size": wal.page,
    }


def raw_footprint(folder: Path, k: int) -> dict[str, Any]:
    path = fresh(folder, "footprint-raw.db")
    conn = raw_db(path)
    wal = Wal(path)
    wal.empty()
    raw_commits(conn, k)
    by_size, _ = wal.frames()
    wal.close()
    conn.close()
    return {"wal_frames": by_size / k, "rows_written": 1, "statements": 3}


def peer_footprint(folder: Path, k: int) -> dict[str, Any] | None:
    if not peer_es.available():
        return None
    path = fresh(folder, "footprint-peer.db")
    peer = peer_es.Peer(path)
    wal = Wal(path)
    try:
        peer.drafts(20)
        before = table_counts(path)
        wal.empty()
        peer.drafts(k)
        by_size, _ = wal.frames()
        after = table_counts(path)
    finally:
        wal.close()
        peer.close()
    return {"wal_frames": by_size / k, "rows_added": sum(added(before, after, k).values()),
            "rows_added_by_table": added(before, after, k)}


async def run(folder: Path, k: int) -> list[Row]:
    err.print(f"[bold]footprint: {k} allowed commands, sequential and {CALLERS} callers[/bold]")
    seq = await signoff_footprint(folder, k, 1)
    k16 = max(1, k // 4) * CALLERS  # a whole number per caller (25 gave 6 × 16 = 96, not 100)
    x16 = await signoff_footprint(folder, k16, CALLERS)
    raw = raw_footprint(folder, k)
    peer = peer_footprint(folder, k)
    beside = {"raw_one_row": raw, "eventsourcing": peer}
    rows = [
        value_row(BENCH, "rows written per allowed command (inserts + updates)",
                  [seq["rows_written"]], "rows", at_most(5),
                  rows_added=seq["rows_added"], by_table=seq["rows_added_by_table"], **beside),
        value_row(BENCH, "statements per allowed command (BEGIN..COMMIT)",
                  [seq["statements"]], "stmts", at_most(12),
                  traced=seq["statements_traced"],
                  per_transaction=seq["statements_per_transaction"]),
        value_row(BENCH, "WAL frames per allowed command", [seq["wal_frames"]], "frames",
                  at_most(16), kib=round(seq["wal_kib"], 1),
                  checkpointer=seq["wal_frames_checkpointer"], page_size=seq["page_size"],
                  raw_one_row=raw["wal_frames"],
                  eventsourcing=None if peer is None else peer["wal_frames"]),
        value_row(BENCH, f"WAL frames per allowed command, {CALLERS} callers",
                  [x16["wal_frames"]], "frames", kib=round(x16["wal_kib"], 1),
                  commands_per_commit=round(k16 / x16["transactions"], 2)),
        value_row(BENCH, f"statements per allowed command, {CALLERS} callers",
                  [x16["statements"]], "stmts", traced=x16["statements_traced"]),
    ]
    err.print(f"  sequential: {seq}")
    err.print(f"  {CALLERS} callers: {x16}")
    err.print(f"  raw one-row: {raw}; eventsourcing: {peer}")
    return rows


async def main() -> None:
    args = parser(__doc__).parse_args()
    with workdir(args.dir) as folder:
        rows = await run(folder, 20 if args.quick else 25)
    emit(rows, args.json, "what one allowed command writes")


if __name__ == "__main__":
    asyncio.run(main())
