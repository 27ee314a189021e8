"""The export bench compares like with like: on a store it grows by cloning
one real agent run, its two arms write one line per proposal, the same
proposals, and the export's lines carry what the agent read first."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("bench_export")
    finally:
        sys.path.remove(str(BENCH))


async def test_both_arms_write_the_same_proposals(bench: ModuleType, tmp_path: Path) -> None:
    path = await bench.grown(tmp_path, 12)
    app, _ = await bench.open_app(path, seed=False)
    try:
        written, size = await bench.export(app, tmp_path / "export.jsonl")
    finally:
        await app.close()
    assert bench.raw_dump(path, tmp_path / "raw.jsonl") == written == 12
    exported = [json.loads(x) for x in (tmp_path / "export.jsonl").read_text().splitlines()]
    raw = [json.loads(x) for x in (tmp_path / "raw.jsonl").read_text().splitlines()]
    assert [x["proposal_id"] for x in exported] == [x["proposal"]["proposal_id"] for x in raw]
    assert len({x["run_id"] for x in exported}) == 12  # every clone is a run of its own
    assert all([c["tool"] for c in x["context"]] == ["get_case_summary"] for x in exported)
    assert size == sum(len(x) for x in (tmp_path / "export.jsonl").read_text().splitlines())
