"""Fixtures every test folder shares: a seeded app on a real SQLite file in
`tmp_path`, with a clock and ids that only move when the test says so.
Folders override what differs (e.g. review/console use a clock near real time).
Async tests run on asyncio through anyio's pytest plugin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from signoff.policies import PrincipalFacts
from signoff.server.app import App, Settings, build_app
from signoff.server.clock import FixedClock, SequentialIds


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "signoff.db"


async def open_app(db: Path, clock: FixedClock, **settings: Any) -> App:
    """The app on `db`, seeded with the casework demo data if empty."""
    app = await build_app(Settings(db=db, clock=clock, ids=SequentialIds(), **settings))
    await app.seed_if_empty()
    return app


@pytest.fixture
async def app(db: Path, clock: FixedClock) -> AsyncIterator[App]:
    built = await open_app(db, clock)
    try:
        yield built
    finally:
        await built.close()


def principal(app: App, principal_id: str, tenant: str = "acme") -> PrincipalFacts:
    record = app.principals.get(principal_id)
    assert record is not None, principal_id
    return record.facts(tenant)
