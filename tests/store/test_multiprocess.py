"""Two OS processes appending to one SQLite file: one global order, one chain."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from signoff.store.records import EventEnvelope
from signoff.store.sqlite.store import SqliteStore

from .factories import chain_breaks

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EVENTS_PER_PROCESS = 200
NAMES = ("alpha", "beta")

# Opens the store, says it is ready, waits for the go signal, then appends
# one event per transaction, pausing so the other process can take the lock.
WORKER = """
import asyncio, sys, time
from pathlib import Path
from signoff.store.sqlite.store import SqliteStore
from tests.store.factories import event

db, name, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])

async def main() -> None:
    async with SqliteStore(db, synchronous="NORMAL") as store:
        (db.parent / f"ready-{name}").touch()
        deadline = time.monotonic() + 30
        while not (db.parent / "go").exists():
            if time.monotonic() > deadline:
                raise SystemExit("no go signal")
            await asyncio.sleep(0.005)
        for version in range(1, count + 1):
            e = event(f"{name}-case", version, event_id=f"{name}-{version}")
            await store.write(lambda uow, e=e: uow.events.append([e]))
            await asyncio.sleep(0.001)

asyncio.run(main())
"""


async def _create(db: Path) -> None:
    async with SqliteStore(db):
        pass


async def _whole_log(db: Path) -> list[EventEnvelope]:
    async with SqliteStore(db) as store:
        return await store.read(lambda uow: uow.events.read_after(0, 10_000))


def _kill_if_running(worker: subprocess.Popen[str]) -> None:
    if worker.poll() is None:
        worker.kill()


def _wait_until_ready(workers: list[subprocess.Popen[str]], ready: list[Path]) -> None:
    deadline = time.monotonic() + 30
    while not all(p.exists() for p in ready):
        for w in workers:
            if w.poll() is not None:
                raise AssertionError(f"a worker exited early: {w.communicate()[1]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers not ready: {[p.name for p in ready if not p.exists()]}")
        time.sleep(0.01)


def test_two_processes_share_one_gapless_chain(tmp_path: Path) -> None:
    db = tmp_path / "signoff.db"
    # Created (and migrated) first: opening a fresh file from two processes at
    # once is its own test (test_sqlite_file: a locked fresh file).
    asyncio.run(_create(db))
    with ExitStack() as stack:
        workers = [
            stack.enter_context(subprocess.Popen(
                [sys.executable, "-c", WORKER, str(db), name, str(EVENTS_PER_PROCESS)],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            ))
            for name in NAMES
        ]
        for w in workers:
            stack.callback(_kill_if_running, w)
        _wait_until_ready(workers, [tmp_path / f"ready-{n}" for n in NAMES])
        (tmp_path / "go").touch()
        for w in workers:
            _, err = w.communicate(timeout=120)
            assert w.returncode == 0, err

    log = asyncio.run(_whole_log(db))
    assert [e.position for e in log] == list(range(1, 2 * EVENTS_PER_PROCESS + 1))
    assert chain_breaks(log) == []
    # The appends really raced: the two aggregates alternate in the global order.
    owners = [e.aggregate_id for e in log]
    assert sum(a != b for a, b in itertools.pairwise(owners)) >= 10
    for name in NAMES:
        mine = [e.aggregate_version for e in log if e.aggregate_id == f"{name}-case"]
        assert mine == list(range(1, EVENTS_PER_PROCESS + 1))
