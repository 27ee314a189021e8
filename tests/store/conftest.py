"""The adapters every store contract test runs against.

An adapter is one entry in ADAPTERS: a factory that gets a fresh temporary
directory and returns an async context manager holding an opened `Store`
(closed, and whatever was made for it removed, at its end). The PostgreSQL
entry makes a schema of its own in the test database for each test, and
skips, saying why, where no PostgreSQL answers (tests/store/postgres.py).
The contract tests expect the errors of `signoff.store.errors` only: no
driver exception may cross the ports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from signoff.store.ports import Store
from signoff.store.postgres.store import PostgresStore
from signoff.store.sqlite.store import SqliteStore

from .postgres import scratch_schema

StoreFactory = Callable[[Path], AbstractAsyncContextManager[Store]]


@asynccontextmanager
async def _opened(store: SqliteStore | PostgresStore) -> AsyncIterator[Store]:
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def _sqlite_file(tmp: Path) -> AbstractAsyncContextManager[Store]:
    return _opened(SqliteStore(tmp / "signoff.db", synchronous="NORMAL"))


def _sqlite_memory(tmp: Path) -> AbstractAsyncContextManager[Store]:
    return _opened(SqliteStore(":memory:"))


@asynccontextmanager
async def _postgres(tmp: Path) -> AsyncIterator[Store]:
    with scratch_schema() as url:
        async with _opened(PostgresStore(url)) as store:
            yield store


ADAPTERS: dict[str, StoreFactory] = {
    "sqlite-file": _sqlite_file,
    "sqlite-memory": _sqlite_memory,
    "postgres": _postgres,
}


@pytest.fixture(params=list(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
async def store(adapter: str, tmp_path: Path) -> AsyncIterator[Store]:
    async with ADAPTERS[adapter](tmp_path) as opened:
        yield opened


def reads_beside_writer(store: Store) -> bool:
    """Whether a read can run while a write commits (not on `:memory:`,
    where the one connection is the writer's)."""
    return not (isinstance(store, SqliteStore) and store.in_memory)
