"""The adapters every store contract test runs against.

An adapter is one entry in ADAPTERS: an async factory that gets a fresh
temporary directory and returns an opened `Store`. The `store` fixture closes
it after the test. A PostgreSQL adapter is one more entry (its factory would
create a scratch database or schema). The contract tests expect the errors of
`signoff.store.errors` only: no driver exception may cross the ports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from signoff.store.ports import Store
from signoff.store.sqlite.store import SqliteStore

StoreFactory = Callable[[Path], Awaitable[Store]]


async def _sqlite_file(tmp: Path) -> Store:
    return await SqliteStore(tmp / "signoff.db", synchronous="NORMAL").open()


async def _sqlite_memory(tmp: Path) -> Store:
    return await SqliteStore(":memory:").open()


ADAPTERS: dict[str, StoreFactory] = {
    "sqlite-file": _sqlite_file,
    "sqlite-memory": _sqlite_memory,
}


@pytest.fixture(params=list(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
async def store(adapter: str, tmp_path: Path) -> AsyncIterator[Store]:
    opened = await ADAPTERS[adapter](tmp_path)
    try:
        yield opened
    finally:
        await opened.close()


def reads_beside_writer(store: Store) -> bool:
    """Whether a read can run while a write commits (not on `:memory:`,
    where the one connection is the writer's)."""
    return not (isinstance(store, SqliteStore) and store.in_memory)
