"""The benchmark harness measures what it says it does (no timings asserted):
signoff's captured statements replayed without signoff write the very same
database, the trace counts each statement once, the bulk seeding makes
proposals a live store keeps working beside, and rounds alternate."""

from __future__ import annotations

import importlib
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def bench() -> Iterator[dict[str, ModuleType]]:
    """The bench modules, imported as `python bench/<name>.py` sees them."""
    sys.path.insert(0, str(BENCH))
    try:
        yield {name: importlib.import_module(name) for name in
               ("benchlib", "rounds", "sqlcapture", "bench_scale")}
    finally:
        sys.path.remove(str(BENCH))


def rows_of(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        out = {n: sorted(map(tuple, conn.execute(f'SELECT * FROM "{n}"')), key=repr)
               for n in names}
    conn.close()
    return out


async def test_replayed_statements_write_the_database_signoff_wrote(
    bench: dict[str, ModuleType], tmp_path: Path
) -> None:
    lib, capture = bench["benchlib"], bench["sqlcapture"]
    with capture.capturing() as cap:
        app, agent = await lib.open_app(tmp_path / "live.db")
        try:
            before = lib.copy_db(tmp_path / "live.db", tmp_path / "replayed.db")
            cap.recording = True
            for n in range(3):
                receipt = await app.proposals.submit(agent, "notice.create_draft",
                                                     lib.draft(n, "t"))
                assert receipt.status == "executed"
            cap.recording = False
        finally:
            await app.close()
    transactions = cap.transactions()
    assert [t.commands for t in transactions] == [1, 1, 1]
    assert capture.statements_run(cap.trace) == len(cap.statements)
    conn = capture.plain_connection(before)
    capture.replay(conn, transactions)
    conn.close()
    live, replayed = rows_of(tmp_path / "live.db"), rows_of(before)
    assert len(replayed["proposals"]) == 3  # none in the copy before the replay
    assert live == replayed


async def test_capture_without_trace_records_statements_but_sets_no_callback(
    bench: dict[str, ModuleType], tmp_path: Path
) -> None:
    """A timing capture records the writer's statements without SQLite's
    trace, whose expansion of every statement would be counted as signoff's."""
    lib, capture = bench["benchlib"], bench["sqlcapture"]
    with capture.capturing(trace=False) as cap:
        app, agent = await lib.open_app(tmp_path / "live.db")
        try:
            cap.recording = True
            receipt = await app.proposals.submit(agent, "notice.create_draft", lib.draft(1, "t"))
            cap.recording = False
        finally:
            await app.close()
    assert receipt.status == "executed"
    assert [t.commands for t in cap.transactions()] == [1]
    assert cap.trace == []
    assert cap.reader_trace == []


def test_trace_repeats_from_triggers_are_folded(bench: dict[str, ModuleType]) -> None:
    run = bench["sqlcapture"].statements_run
    trace = ["BEGIN", "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (1)",
             "SELECT 1", "SELECT 1", "COMMIT"]
    assert run(trace) == 5


async def test_seeded_proposals_sit_beside_a_working_store(
    bench: dict[str, ModuleType], tmp_path: Path
) -> None:
    lib, scale = bench["benchlib"], bench["bench_scale"]
    path = await scale.grown(tmp_path, "grown.db", 60)
    app, agent = await lib.open_app(path, seed=False)
    try:
        counts = await scale.counts(app)
        receipt = await app.proposals.submit(agent, "notice.create_draft", lib.draft(1, "after"))
        assert receipt.status == "executed"
        assert (await scale.counts(app))["proposals"] == counts["proposals"] + 1
    finally:
        await app.close()
    assert counts["proposals"] == 60
    with sqlite3.connect(path) as conn:
        ids = conn.execute("SELECT COUNT(DISTINCT proposal_id), "
                           "COUNT(DISTINCT idempotency_key) FROM proposals").fetchone()
        minute = conn.execute("SELECT MAX(proposals) FROM proposal_counts_by_minute").fetchone()
    conn.close()
    assert ids == (61, 61)  # each clone its own proposal and idempotency key
    assert minute[0] >= 55  # the rate counters saw the clones


async def test_rounds_rotate_and_ratios_are_medians_per_round(
    bench: dict[str, ModuleType]
) -> None:
    rounds = bench["rounds"]
    order: list[str] = []
    base = iter([10.0, 10.0, 20.0, 10.0, 10.0])
    subject = iter([5.0, 6.0, 30.0, 5.0, 7.0])

    def arm(name: str, values: Iterator[float]) -> object:
        def run() -> float:
            order.append(name)
            return next(values)
        return run

    got = await rounds.alternate({"b": arm("b", base), "s": arm("s", subject)}, 5, log=False)
    assert order == ["b", "s", "s", "b", "b", "s", "s", "b", "b", "s"]
    row = rounds.ratio_row("t", "s ÷ b", ("s", got["s"]), ("b", got["b"]), rounds.at_least(0.9))
    assert row.now == 0.6
    assert (row.spread["min"], row.spread["max"]) == (0.5, 1.5)
    assert row.met is False
