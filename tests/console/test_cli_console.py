"""`signoff console` itself: the command serves the database it is given."""

from __future__ import annotations

import signal
import socket
import sys
from pathlib import Path
from subprocess import DEVNULL

import anyio
import pytest

from signoff.server.app import App
from tests.console.http import Browserless, Reply
from tests.review.helpers import escalation

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def first_answer(web: Browserless, path: str) -> Reply:
    """The first reply once the server listens (it takes a moment to start)."""
    for _ in range(400):
        try:
            return await web.get(path)
        except OSError:
            await anyio.sleep(0.05)
    raise AssertionError("the console never started listening")


async def test_the_console_command_serves_the_queue(app: App, db: Path) -> None:
    proposal_id = await escalation(app)
    port = free_port()
    command = [sys.executable, "-m", "signoff.server.cli", "console", "--db", str(db),
               "--port", str(port), "--secret", "a-test-secret"]
    async with await anyio.open_process(command, stdout=DEVNULL, stderr=DEVNULL) as process:
        try:
            web = Browserless(f"http://127.0.0.1:{port}")
            assert (await first_answer(web, "/signin")).status == 200
            assert (await web.sign_in("demo-alice")).status == 303
            queue = await web.get("/queue")
            assert queue.status == 200
            assert proposal_id in queue.body
        finally:
            process.send_signal(signal.SIGINT)  # Ctrl-C: a graceful stop
            code = await process.wait()
    # uvicorn re-raises the interrupt after a clean shutdown: 128 + SIGINT.
    assert code == 130
