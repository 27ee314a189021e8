"""Fixtures every test folder shares: a seeded app on a real SQLite file in
`tmp_path` (or, for a test marked `both_adapters`, on each adapter in turn:
tests/databases.py), with a clock and ids that only move when the test says
so. Folders override what differs (e.g. review/console use a clock near real
time). Async tests run on asyncio through anyio's pytest plugin.

Every test also carries the marker of its layer (`pytest -m unit` and so on):
unit (pure logic), contract (the store suite, every adapter), integration
(services on a real store), e2e (real MCP clients, browsers, servers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from signoff.policies import PrincipalFacts
from signoff.server.app import App, Database, Settings, build_app
from signoff.server.clock import FixedClock, SequentialIds
from tests.store.postgres import scratch_schema

LAYERS = ("unit", "contract", "integration", "e2e")
# A folder's layer, and the files that sit in a folder of another layer.
FOLDER_LAYER = {
    "policies": "unit", "casework": "unit", "store": "contract", "core": "integration",
    "delivery": "integration", "review": "integration", "console": "e2e", "mcp": "e2e",
    "e2e": "e2e", "gateway": "integration", "cli": "integration", "bench": "integration",
    "assistant": "integration",
}
FILE_LAYER = {
    "test_layout.py": "unit",
    "core/test_quorum.py": "unit",
    "policies/test_cli.py": "integration",
    "delivery/test_subjects.py": "unit",
    "delivery/test_nats.py": "e2e",
    "console/test_http.py": "integration",
    "mcp/test_schemas.py": "unit",
    "gateway/test_config.py": "unit",
    "gateway/test_catalogue.py": "unit",
    "gateway/test_bounds.py": "unit",
    "assistant/test_handlers.py": "unit",
    "assistant/test_context.py": "unit",
    "assistant/test_mcp.py": "e2e",
}
TESTS = Path(__file__).resolve().parent


def layer_of(path: Path) -> str:
    relative = path.resolve().relative_to(TESTS)
    layer = FILE_LAYER.get(relative.as_posix()) or FOLDER_LAYER.get(relative.parts[0])
    if layer is None:
        raise pytest.UsageError(f"{relative}: say which layer it is in (tests/conftest.py)")
    return layer


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(getattr(pytest.mark, layer_of(item.path)))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def db(request: pytest.FixtureRequest, tmp_path: Path,
       monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """A SQLite file in `tmp_path`; under `both_adapters` (which sets the
    param), also a fresh PostgreSQL schema, or a skip saying why there is none."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield tmp_path / "signoff.db"
        return
    with scratch_schema() as url:
        # Files named relative to a URL's store (notices.jsonl) go to the
        # working directory: this test's own, as beside its SQLite file.
        monkeypatch.chdir(tmp_path)
        yield url


async def open_app(db: Database, clock: FixedClock, **settings: Any) -> App:
    """The app on `db`, seeded with the casework demo data if empty."""
    app = await build_app(Settings(db=db, clock=clock, ids=SequentialIds(), **settings))
    await app.seed_if_empty()
    return app


@pytest.fixture
async def app(db: Database, clock: FixedClock) -> AsyncIterator[App]:
    built = await open_app(db, clock)
    try:
        yield built
    finally:
        await built.close()


def principal(app: App, principal_id: str, tenant: str = "acme") -> PrincipalFacts:
    record = app.principals.get(principal_id)
    assert record is not None, principal_id
    return record.facts(tenant)
