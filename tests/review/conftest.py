"""An app on a real SQLite file with the casework demo data, whose fixed
clock sits just before the real time so the CLI (system clock) agrees on expiry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from signoff.server.app import App
from signoff.server.clock import FixedClock
from tests.review.helpers import open_app, real_clock


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "signoff.db"


@pytest.fixture
def clock() -> FixedClock:
    # Half an hour ago: tests may move it forward without passing real time.
    return real_clock(-timedelta(minutes=30))


@pytest.fixture
async def app(db: Path, clock: FixedClock) -> AsyncIterator[App]:
    built = await open_app(db, clock)
    try:
        yield built
    finally:
        await built.close()
