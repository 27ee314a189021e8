"""bench_postgres's pure helpers do what its report says (no timings asserted):
the clients split evenly over the processes, CPU shares are ticks over the
machine's ticks, /proc lines parse even with spaces in a command's name, the
scratch schema's URL puts it first on the search path, and the report has
the rows and goals issue 14 asks for."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from urllib.parse import parse_qs, urlsplit

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench() -> Iterator[dict[str, ModuleType]]:
    """The modules, imported as `python bench/bench_postgres.py` sees them."""
    sys.path.insert(0, str(BENCH))
    try:
        yield {name: importlib.import_module(name) for name in
               ("cpu", "pg_load", "bench_postgres", "run")}
    finally:
        sys.path.remove(str(BENCH))


def test_clients_split_evenly_larger_shares_first(bench: dict[str, ModuleType]) -> None:
    split = bench["pg_load"].split
    assert split(32, 1) == [32]
    assert split(32, 2) == [16, 16]
    assert split(32, 3) == [11, 11, 10]
    assert split(2, 3) == [1, 1, 0]


def test_proc_lines_parse(bench: dict[str, ModuleType]) -> None:
    cpu = bench["cpu"]
    assert cpu.machine_ticks("cpu  100 5 50 800 40 3 2 0 7 0\ncpu0 1 2 3 4\n") == (160, 1000)
    line = "4242 (postgres: 15/main: walwriter) S 1 2 3 0 -1 4 5 6 7 8 90 12 0 0 20 0 1 0"
    assert cpu.process_ticks(line) == ("postgres: 15/main: walwriter", 102)


def test_shares_are_percent_of_all_cores(bench: dict[str, ModuleType]) -> None:
    cpu = bench["cpu"]
    before = cpu.Sample(busy=100, total=1000, ticks={"postgres": {1: 10, 2: 50},
                                                     "driver": {9: 0}})
    # pid 2 exited (its ticks are gone), pid 3 started inside the window
    after = cpu.Sample(busy=250, total=1200, ticks={"postgres": {1: 30, 3: 20},
                                                    "driver": {9: 50}})
    assert cpu.shares(before, after) == {"machine": 75.0, "postgres": 20.0, "driver": 25.0}


def test_a_sample_of_this_machine_finds_this_process(bench: dict[str, ModuleType]) -> None:
    cpu = bench["cpu"]
    got = cpu.sample({"driver": [os.getpid()]})
    assert set(got.ticks) == {"driver", "postgres"}
    assert os.getpid() in got.ticks["driver"]
    assert 0 <= got.busy <= got.total


def test_scratch_schema_is_first_on_the_search_path(bench: dict[str, ModuleType]) -> None:
    pg = bench["pg_load"]
    schema = pg.new_schema()
    url = pg.schema_url("postgresql://postgres@127.0.0.1:5432/test", schema)
    parts = urlsplit(url)
    assert parts.path == "/test"
    assert parse_qs(parts.query)["options"] == [f"-csearch_path={schema}"]
    assert schema != pg.new_schema()
    joined = pg.schema_url("postgresql://u@h/db?sslmode=disable", "s")
    assert parse_qs(urlsplit(joined).query) == {"sslmode": ["disable"],
                                                "options": ["-csearch_path=s"]}


def test_the_report_holds_the_rows_issue_14_asks_for(
    bench: dict[str, ModuleType], tmp_path: Path
) -> None:
    bp = bench["bench_postgres"]
    runs = bp.Bench(tmp_path, "postgresql://nowhere/test", 32, 2.0)
    got = {"pg x1": [10.0] * 5, "pg x2": [15.0] * 5, "pg x3": [20.0] * 5,
           "sqlite x1": [40.0] * 5, "raw": [1000.0] * 5}
    runs.cpu = {arm: [{"machine": 90.0, "postgres": 10.0, "signoff": 50.0, "driver": 20.0}] * 5
                for arm in bp.ARMS}
    check = {"lost": 0, "duplicated": 1, "unreceipted_in_db": 0, "receipts": 3}
    rows = {row.measure: row for row in bp.report(runs, got, check, (1.0, 2.0))}
    scaling = rows["PG, 32 clients: 3 ÷ 1 serve processes (scaling efficiency)"]
    assert (scaling.now, str(scaling.goal), scaling.met) == (2.0, "≥ 1.5", True)
    assert rows["PG, 32 clients: 1 PostgreSQL ÷ 1 SQLite serve process"].now == 0.25
    assert rows["PG, 32 clients: 3 serve processes ÷ raw one-row inserts"].now == 0.02
    lost = rows["PG: proposals lost + duplicated + unreceipted"]
    assert (lost.now, lost.met) == (1.0, False)
    cpu_rows = [row for name, row in rows.items() if name.startswith("CPU during")]
    assert len(cpu_rows) == 2 * len(bp.ARMS)
    assert all(row.goal is None and row.unit == "%" for row in cpu_rows)
    shown = [row.as_json() for row in rows.values()]
    table = [row for row in shown if bench["run"].shown(row, everything=False)]
    assert len(table) == 5 + 2 * len(bp.ARMS) + 1  # ratios, CPU, the check; not throughput
    assert "postgres" in bench["run"].BENCHES
