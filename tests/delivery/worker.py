"""A relay in a separate process, for the race test: opens the app on a
database (a SQLite file or a PostgreSQL URL), says it is ready beside the go
file (ready-OWNER), waits for the go signal, drains the outbox into a JSONL sink
shared with the other relay (slowed down a little per message so the two
interleave), and prints how many rows it published.

    python -m tests.delivery.worker DB OWNER SINK_FILE GO_FILE
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import anyio

from signoff.server.app import App, Settings, build_app, is_url
from signoff.server.delivery.config import RelayOptions
from signoff.server.delivery.relay import Relay
from signoff.server.delivery.sinks import JsonlSink
from signoff.store.records import OutboxMessage


class SlowJsonl(JsonlSink):
    async def publish(self, message: OutboxMessage) -> None:
        await asyncio.sleep(0.002)
        await super().publish(message)


async def race(app: App, owner: str, sink_file: Path, go: Path) -> None:
    deadline = time.monotonic() + 30
    while not await anyio.Path(go).exists():
        if time.monotonic() > deadline:
            raise SystemExit("no go signal")
        await asyncio.sleep(0.005)
    relay = Relay(app.store, [SlowJsonl("shared", sink_file)], app.clock,
                  RelayOptions(batch=5), owner=owner)
    try:
        result = await relay.drain()
    finally:
        await relay.close()
    print(result.published, flush=True)


async def main(argv: list[str]) -> None:
    db, owner, sink_file, go = argv
    app = await build_app(Settings(db=db if is_url(db) else Path(db)))
    try:
        (Path(go).parent / f"ready-{owner}").touch()
        await race(app, owner, Path(sink_file), Path(go))
    finally:
        await app.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
