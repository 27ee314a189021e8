"""kill -9 the relay at injected points, restart it, and check that every
sent notice is in notices.jsonl once and recorded delivered once; race two
relay processes on one database and check every row is published once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import anyio
import anyio.to_thread
import pytest

from signoff.server.app import Database, Settings, build_app
from signoff.server.ops.audit import verify_chain
from signoff.server.services.proposals import CallContext
from tests.conftest import principal
from tests.databases import both_adapters, cases_on_both, query, scalar

from .conftest import send_notice

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NOTICES = 3
POINTS = [
    "relay.after_publish:1", "relay.after_publish:20",  # published, not marked published
    "notifier.after_append:1", "notifier.after_append:2",  # in the file, not recorded
    "notifier.before_inbox:1",  # recorded delivered, inbox row missing
    "writer.before_commit:3", "writer.after_commit:4",  # somewhere in the bookkeeping
]
# One of each step on PostgreSQL (a transaction killed before its commit is
# covered by tests/core/test_crash.py there).
ON_POSTGRES = ["relay.after_publish:1", "notifier.after_append:1", "notifier.before_inbox:1",
               "writer.after_commit:4"]


async def prepare(db: Database) -> None:
    app = await build_app(Settings(db=db))
    try:
        await app.seed_if_empty()
        await send_notice(app, "case-acme-001")
        await send_notice(app, "case-acme-002")
        await send_notice(app, "case-globex-001", tenant="globex")
    finally:
        await app.close()


async def relay_once(db: Database, folder: Path, crash_at: str | None = None
                     ) -> subprocess.CompletedProcess[bytes]:
    """`signoff relay --once` in `folder`: where a URL's store puts
    notices.jsonl (a SQLite file's store puts it beside the file)."""
    env = {k: v for k, v in os.environ.items() if k != "SIGNOFF_CRASH_AT"}
    if crash_at:
        env["SIGNOFF_CRASH_AT"] = crash_at
    return await anyio.run_process(
        [sys.executable, "-m", "signoff.server.cli", "relay", "--once", "--db", str(db),
         "--owner", "relay-1"], cwd=folder, env=env, check=False)


def check_exactly_once(db: Database, folder: Path) -> None:
    notices = [json.loads(line) for line in (folder / "notices.jsonl").read_text()
               .splitlines()]
    sent = {m for (m,) in query(db, "SELECT message_id FROM outbox WHERE topic = 'notice.sent'")}
    delivered = Counter(a for (a,) in query(
        db, "SELECT aggregate_id FROM events WHERE event_type = 'notice.delivered'"))
    statuses = dict(query(db, "SELECT status, COUNT(*) FROM outbox GROUP BY status"))
    inbox = scalar(db, "SELECT COUNT(*) FROM inbox WHERE consumer = 'notifier'")
    assert len(sent) == NOTICES
    assert Counter(n["message_id"] for n in notices) == Counter(dict.fromkeys(sent, 1))
    assert len(delivered) == NOTICES
    assert set(delivered.values()) == {1}
    assert set(statuses) == {"published"}, statuses
    assert inbox == NOTICES


@cases_on_both("point", POINTS, postgres=ON_POSTGRES)
async def test_a_killed_relay_delivers_each_notice_once_after_a_restart(
    db: Database, tmp_path: Path, point: str
) -> None:
    await prepare(db)

    crashed = await relay_once(db, tmp_path, point)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()
    restarted = await relay_once(db, tmp_path)
    assert restarted.returncode == 0, (restarted.stdout + restarted.stderr).decode()
    check_exactly_once(db, tmp_path)

    again = await relay_once(db, tmp_path)  # nothing left to do, and doing it twice is harmless
    assert again.returncode == 0, again.stderr.decode()
    assert b"claimed 0" in again.stdout
    check_exactly_once(db, tmp_path)
    app = await build_app(Settings(db=db))
    try:
        assert (await app.store.read(verify_chain)).ok
    finally:
        await app.close()


def race(db: Database, folder: Path, sink: Path) -> list[tuple[str, str]]:
    """Start two relay processes, let them go at once, wait for both."""
    go = folder / "go"
    names = ("relay-a", "relay-b")
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.delivery.worker", str(db), name, str(sink), str(go)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in names
    ]
    deadline = time.monotonic() + 60
    while not all((folder / f"ready-{n}").exists() for n in names):
        assert time.monotonic() < deadline, "relays never became ready"
        time.sleep(0.01)
    go.touch()
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [e for _, e in outputs]
    return outputs


@both_adapters
async def test_two_relay_processes_publish_each_row_once(db: Database, tmp_path: Path) -> None:
    app = await build_app(Settings(db=db))
    try:
        await app.seed_if_empty()
        agent = principal(app, "agent:triage")
        for n in range(60):
            case = f"case-acme-00{1 + n % 3}"
            # Runs of 20: under the policy's per-run limit of 50.
            receipt = await app.proposals.submit(agent, "brief.create", {
                "case_id": case, "summary": f"note {n}", "confidence": 0.9},
                CallContext(run_id=f"run-{n // 20}"))
            assert receipt.status == "executed", receipt
    finally:
        await app.close()
    rows = {m for (m,) in query(db, "SELECT message_id FROM outbox")}
    assert len(rows) > 80

    sink = tmp_path / "shared.jsonl"
    outputs = await anyio.to_thread.run_sync(race, db, tmp_path, sink)
    published = [int(out.strip()) for out, _ in outputs]
    lines = [json.loads(line)["id"] for line in sink.read_text().splitlines()]
    assert Counter(lines) == Counter(dict.fromkeys(rows, 1))
    assert sum(published) == len(rows)
    assert dict(query(db, "SELECT status, COUNT(*) FROM outbox GROUP BY status")) == {
        "published": len(rows)}
    assert scalar(db, "SELECT MAX(attempts) FROM outbox") == 1
    assert all(n > 0 for n in published), published  # both really took part
