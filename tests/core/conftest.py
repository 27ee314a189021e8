"""An application on a real SQLite file, seeded with the casework demo data,
with a clock and ids that only move when the test says so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from signoff.policies import PrincipalFacts
from signoff.server.app import App, Settings, build_app
from signoff.server.clock import FixedClock, SequentialIds


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "signoff.db"


@pytest.fixture
async def app(db: Path, clock: FixedClock) -> AsyncIterator[App]:
    built = await build_app(Settings(db=db, clock=clock, ids=SequentialIds()))
    assert await built.seed_if_empty() > 0
    try:
        yield built
    finally:
        await built.close()


def principal(app: App, principal_id: str, tenant: str = "acme") -> PrincipalFacts:
    record = app.principals.get(principal_id)
    assert record is not None, principal_id
    return record.facts(tenant)


@pytest.fixture
def agent(app: App) -> PrincipalFacts:
    return principal(app, "agent:triage")


@pytest.fixture
def alice(app: App) -> PrincipalFacts:
    return principal(app, "user:alice")


@pytest.fixture
def bob(app: App) -> PrincipalFacts:
    return principal(app, "user:bob")


@pytest.fixture
def carol(app: App) -> PrincipalFacts:
    return principal(app, "user:carol")
