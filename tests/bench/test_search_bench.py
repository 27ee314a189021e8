"""bench_search measures what it says (no timings asserted): the bulk seed
fills both tenants through the real table so the index finds them, the
search arm and the bare FTS5 arm ask the same terms, and the report has its
rows; run.py knows the bench."""

from __future__ import annotations

import importlib
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from signoff.store.sqlite.store import SqliteStore

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def bench() -> Iterator[dict[str, ModuleType]]:
    sys.path.insert(0, str(BENCH))
    try:
        yield {name: importlib.import_module(name) for name in ("bench_search", "run")}
    finally:
        sys.path.remove(str(BENCH))


async def test_the_seed_is_indexed_and_both_arms_ask_the_same_words(
    bench: dict[str, ModuleType], tmp_path: Path
) -> None:
    mod = bench["bench_search"]
    path = tmp_path / "search.db"
    await (await SqliteStore(path).open()).close()
    asked, _ = mod.seed(path, 500)

    with sqlite3.connect(path) as conn:
        per_tenant = dict(conn.execute(
            "SELECT tenant_id, count(*) FROM read_models GROUP BY tenant_id").fetchall())
        indexed = conn.execute("SELECT count(*) FROM read_models_search_docsize").fetchone()[0]
        conn.execute("INSERT INTO read_models_search (read_models_search, rank) "
                     "VALUES ('integrity-check', 1)")
    conn.close()
    assert per_tenant == {mod.TENANT: 500, mod.SMALL_TENANT: 5}
    assert indexed == 505
    assert len(asked) == 24
    assert all(mod.terms(q) for q in asked)

    rows = await mod.run(tmp_path, 300, 5)
    assert [r.measure for r in rows][:2] == ["search over 300 docs ÷ bare FTS5 query",
                                             "search over 300 docs, in one read ÷ bare FTS5 query"]
    assert rows[0].detail["hits_per_query"] > 0
    assert rows[0].rounds == 5


def test_run_py_runs_it(bench: dict[str, ModuleType]) -> None:
    assert bench["run"].BENCHES["search"] == ["bench_search.py"]
