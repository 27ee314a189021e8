"""The console tests' app: a real SQLite file with the casework demo data and
a fixed clock just before the real time (ages and expiry read sensibly)."""

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
    return real_clock(-timedelta(minutes=30))


@pytest.fixture
async def app(db: Path, clock: FixedClock) -> AsyncIterator[App]:
    built = await open_app(db, clock)
    try:
        yield built
    finally:
        await built.close()
