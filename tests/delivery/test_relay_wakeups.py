"""A relay in another process is woken by a commit: on PostgreSQL, an outbox
row written here is delivered by `signoff relay` running as a process of its
own long before its 30 s poll would have found it (LISTEN/NOTIFY).

The relay proves it is up by delivering a first row (its first pass runs at
start); the second row is written while it rests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from signoff.store.postgres.store import PostgresStore
from signoff.store.records import OutboxMessage
from tests.store.factories import T0
from tests.store.postgres import scratch_schema

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

POLL = 30.0  # the relay's catch-up poll: it must not be what delivers the row
STARTUP = 120.0  # a bound for a process to start on a loaded machine, not a measurement
TOLD = 10.0
CLEARED = ("SIGNOFF_CRASH_AT", "SIGNOFF_GATEWAY", "SIGNOFF_POLICY", "SIGNOFF_PRINCIPALS",
           "SIGNOFF_DB", "SIGNOFF_DOMAIN", "SIGNOFF_SINKS")
SINKS = f"""
[relay]
poll = {POLL}

[notifier]
enabled = false

[[sink]]
name = "archive"
kind = "jsonl"
path = "out.jsonl"
"""


def ping(message_id: str) -> OutboxMessage:
    return OutboxMessage(message_id=message_id, tenant_id="acme", topic="test.ping",
                         aggregate_id=None, payload={"n": message_id}, created_at=T0)


def delivered(out: Path) -> list[str]:
    if not out.exists():
        return []
    return [json.loads(line)["id"] for line in out.read_text().splitlines() if line]


@pytest.fixture
def url() -> Iterator[str]:
    with scratch_schema() as made:
        yield made


@pytest.fixture
def relay(url: str, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    (tmp_path / "sinks.toml").write_text(SINKS)
    environ = {k: v for k, v in os.environ.items() if k not in CLEARED}
    process = subprocess.Popen(
        [sys.executable, "-m", "signoff.server.cli", "relay", "--db", url,
         "--sinks", str(tmp_path / "sinks.toml"), "--no-projections"],
        cwd=tmp_path, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


async def until_delivered(out: Path, message_id: str, relay: subprocess.Popen[str],
                          bound: float) -> float:
    """Seconds until `message_id` is in the sink's file; fails after `bound`."""
    started = time.monotonic()
    with anyio.fail_after(bound):
        while message_id not in delivered(out):
            if relay.poll() is not None:
                raise AssertionError(f"the relay exited: {relay.communicate()[1]}")
            await anyio.sleep(0.02)
    return time.monotonic() - started


async def test_a_row_written_in_one_process_is_delivered_by_a_relay_in_another_at_once(
    url: str, tmp_path: Path, relay: subprocess.Popen[str],
) -> None:
    out = tmp_path / "out.jsonl"
    async with PostgresStore(url, max_size=2) as store:
        await store.write(lambda uow: uow.outbox.add([ping("first")]))
        await until_delivered(out, "first", relay, STARTUP)
        await anyio.sleep(0.5)  # the relay has settled its pass and rests for 30 s
        await store.write(lambda uow: uow.outbox.add([ping("second")]))
        took = await until_delivered(out, "second", relay, TOLD)
    assert delivered(out) == ["first", "second"]
    assert took < POLL / 3
