"""The server object driven in-process (the SDK's memory transport) for what a
subprocess cannot show: a crash inside a tool body, and a caller the
transport could not identify."""

from __future__ import annotations

import logging
import sqlite3
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPDeprecationWarning

from signoff.policies import PrincipalFacts
from signoff.server.app import App
from signoff.server.mcp.identity import FixedIdentity
from signoff.server.mcp.server import build_server
from tests.core.helpers import table_counts
from tests.mcp.conftest import open_app


class NoCaller:
    def current(self) -> PrincipalFacts | None:
        return None


@pytest.fixture
async def app(db: Path) -> AsyncIterator[App]:
    async with open_app(db) as opened:
        yield opened


def agent(app: App) -> FixedIdentity:
    record = app.principals.get("agent:triage")
    assert record is not None
    return FixedIdentity(record.facts("acme"))


@pytest.mark.anyio
async def test_a_crash_is_an_internal_error_with_a_reference_and_no_internals(
        app: App, db: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("no such table: secret_internal_table")

    monkeypatch.setattr(app.queries, "run", broken)
    monkeypatch.setattr(app.proposals, "submit", broken)
    server = build_server(app, agent(app))
    before = table_counts(db)
    with caplog.at_level(logging.ERROR, logger="signoff.mcp"):
        async with server.running(), Client(server) as client:
            query = await client.call_tool("list_cases", {})
            command = await client.call_tool("create_analyst_brief", {
                "case_id": "case-acme-001", "summary": "x", "confidence": 0.9})
    for result in (query, command):
        assert result.is_error
        text = result.model_dump_json()
        assert "internal error, reference " in text
        assert "secret_internal_table" not in text
        assert "Traceback" not in text
    assert "secret_internal_table" in caplog.text  # the details stay on the server's stderr
    assert table_counts(db) == before


@pytest.mark.anyio
async def test_no_identified_caller_sees_nothing_and_may_do_nothing(app: App) -> None:
    server = build_server(app, NoCaller())
    async with server.running(), Client(server) as client:
        assert (await client.list_tools()).tools == []
        query = await client.call_tool("list_cases", {})
        command = await client.call_tool("create_analyst_brief", {
            "case_id": "case-acme-001", "summary": "x", "confidence": 0.9})
    assert query.is_error
    assert "not permitted" in query.model_dump_json()
    assert command.is_error
    assert command.structured_content is not None
    assert command.structured_content["outcome"] == "rejected"


@pytest.mark.anyio
async def test_a_closed_connection_leaves_no_subscription_behind(app: App) -> None:
    server = build_server(app, agent(app))
    async with server.running():
        for _ in range(3):  # the same proposal, by idempotency key
            async with Client(server, mode="legacy") as client:
                receipt = await client.call_tool("propose_case_escalation", {
                    "case_id": "case-acme-001", "expected_version": 4,
                    "confidence": 0.8, "evidence_refs": ["ev-acme-001-a"],
                    "idempotency_key": "watched-escalation"})
                assert receipt.structured_content is not None
                proposal_id = receipt.structured_content["proposal_id"]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    await client.subscribe_resource(f"signoff://proposals/{proposal_id}")
                assert server.watch.watched == [f"signoff://proposals/{proposal_id}"]
            assert server.watch.watched == []
