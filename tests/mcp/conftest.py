"""End-to-end fixtures: a seeded SQLite file, and `signoff serve` spawned as a
real subprocess that a real `mcp.Client` talks to over stdio."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO, cast

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_types import RequestParamsMeta

from signoff.server.app import App, Settings, build_app
from signoff.server.clock import FixedClock, SequentialIds

ACME_CASES = {"case-acme-001", "case-acme-002", "case-acme-003"}
# Words only globex's data contains: none may ever reach an acme caller.
GLOBEX_MARKERS = ("case-globex", "ev-globex", "Pinecrest", "Lumen", "asset-management",
                  "financial-crime")


def meta(**ids: str) -> RequestParamsMeta:
    return cast(RequestParamsMeta, {f"signoff/{key}": value for key, value in ids.items()})


async def seed(db: Path) -> None:
    async with await build_app(Settings(db=db, clock=FixedClock(), ids=SequentialIds())) as app:
        assert await app.seed_if_empty() > 0


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "signoff.db"
    anyio.run(seed, path)
    return path


def serve_args(db: Path, *extra: str, principal: str | None = "agent:triage",
               tenant: str | None = "acme") -> list[str]:
    args = ["-m", "signoff.server.cli", "serve", "--db", str(db)]
    if principal:
        args += ["--principal", principal]
    if tenant:
        args += ["--tenant", tenant]
    return args + list(extra)


@asynccontextmanager
async def stdio_session(
    db: Path, *extra: str, principal: str | None = "agent:triage", tenant: str | None = "acme",
    mode: str = "legacy", errlog: TextIO | None = None, **client: Any,
) -> AsyncIterator[Client]:
    """A real `signoff serve` subprocess and a real client over its stdio."""
    params = StdioServerParameters(
        command=sys.executable, args=serve_args(db, *extra, principal=principal, tenant=tenant))
    transport = stdio_client(params, errlog=errlog or sys.stderr)
    async with Client(transport, mode=mode, **client) as session:
        yield session


@asynccontextmanager
async def open_app(db: Path | str) -> AsyncIterator[App]:
    """The same database, opened by the test as another process would."""
    async with await build_app(Settings(db=db)) as app:
        yield app
