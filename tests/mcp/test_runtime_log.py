"""The runtime log: one entry per tool call, with the run ids from `_meta`,
written in batches, flushed on shutdown, and never holding a secret."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import anyio
import pytest
from mcp_types import RequestParamsMeta

from signoff.server.mcp.runtime_log import RuntimeLogWriter, arguments_digest, redact
from signoff.store.ports import Store
from signoff.store.records import RuntimeEntry
from tests.mcp.conftest import meta, open_app, stdio_session


def test_redact_drops_secret_fields_at_any_depth() -> None:
    value = {"case_id": "c1", "api_token": "t", "nested": [{"Password": "p", "ok": 1}],
             "client_secret": "s", "summary": "the token word in a value stays"}
    assert redact(value) == {"case_id": "c1", "nested": [{"ok": 1}],
                             "summary": "the token word in a value stays"}
    assert arguments_digest({"a": 1, "auth_token": "x"}) == arguments_digest({"a": 1})


@pytest.mark.anyio
async def test_every_call_is_logged_with_its_run_ids_and_no_secret(db: Path) -> None:
    ids = {"run_id": "run-42", "correlation_id": "corr-7", "thread_id": "thread-1"}
    async with stdio_session(db) as client:
        await client.call_tool("list_cases", {}, meta=meta(**ids))
        await client.call_tool("get_case_summary", {"case_id": "case-acme-002"}, meta=meta(**ids))
        brief = await client.call_tool("create_analyst_brief", {
            "case_id": "case-acme-001", "summary": "noted", "confidence": 0.9}, meta=meta(**ids))
        secret = await client.call_tool("create_analyst_brief", {
            "case_id": "case-acme-001", "summary": "noted", "confidence": 0.9,
            "password": "hunter2-secret"}, meta=meta(**ids))
        plain = cast(RequestParamsMeta, {"run_id": "run-plain"})
        await client.call_tool("list_cases", {}, meta=plain)
    assert brief.structured_content is not None
    assert secret.is_error
    async with open_app(db) as app:
        logged = await app.store.read(lambda uow: uow.runtime.find(run_id="run-42"))
        plain_logged = await app.store.read(lambda uow: uow.runtime.find(run_id="run-plain"))
        proposal = await app.store.read(
            lambda uow: uow.proposals.get(str(brief.structured_content["proposal_id"]), "acme"))
    assert [(e.tool, e.kind, e.outcome) for e in logged] == [
        ("list_cases", "query", "ok"), ("get_case_summary", "query", "ok"),
        ("create_analyst_brief", "command", "accepted"),
        ("create_analyst_brief", "command", "validation_error")]
    assert all((e.principal_id, e.tenant_id, e.correlation_id) == ("agent:triage", "acme", "corr-7")
               for e in logged)
    assert logged[2].proposal_id == brief.structured_content["proposal_id"]
    assert logged[2].arguments_digest == logged[3].arguments_digest  # the password was dropped
    assert all("hunter2" not in e.model_dump_json() for e in logged)
    assert [e.tool for e in plain_logged] == ["list_cases"]
    assert proposal is not None
    assert (proposal.run_id, proposal.thread_id, proposal.correlation_id) == (
        "run-42", "thread-1", "corr-7")


async def wait_for(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll a condition on the database, which has no change signal to wait on."""
    for _ in range(1000):
        if await condition():
            return
        await anyio.sleep(0.01)
    raise AssertionError("the condition never held")


def entry(number: int) -> RuntimeEntry:
    return RuntimeEntry(
        entry_id=f"rt_{number}", tenant_id="acme", principal_id="agent:triage",
        tool="list_cases", kind="query", arguments_digest="d", outcome="ok", latency_ms=1.0,
        run_id="batch", at=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.mark.anyio
async def test_the_writer_batches_and_flushes_on_shutdown(db: Path) -> None:
    async with open_app(db) as app:
        writer = RuntimeLogWriter(app.store, interval=3600, batch=10)

        async def logged() -> int:
            return len(await app.store.read(lambda uow: uow.runtime.find(run_id="batch")))

        async def a_batch_is_written() -> bool:
            return await logged() == 10

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(writer.run)
            for number in range(9):
                writer.record(entry(number))
            await anyio.sleep(0.05)
            assert await logged() == 0  # under a batch and before the interval: buffered
            writer.record(entry(9))  # the tenth fills a batch: written without waiting
            await wait_for(a_batch_is_written)
            writer.record(entry(10))
            tasks.cancel_scope.cancel()
        assert await logged() == 11  # the cancelled writer flushed what was left
        assert writer.pending == 0


class FlakyStore:
    """Fails its first write, then keeps what it is given (a unit-test fake)."""

    def __init__(self) -> None:
        self.failures = 1
        self.written: list[RuntimeEntry] = []

    async def write(self, fn: Callable[[Any], None]) -> None:
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("database is locked")
        fn(self)

    @property
    def runtime(self) -> FlakyStore:
        return self

    def append(self, entries: list[RuntimeEntry]) -> None:
        self.written += entries


@pytest.mark.anyio
async def test_a_failed_flush_keeps_the_entries_for_the_next(
        caplog: pytest.LogCaptureFixture) -> None:
    store = FlakyStore()
    writer = RuntimeLogWriter(cast(Store, store))
    writer.record(entry(1))
    assert await writer.flush() == 0
    assert writer.pending == 1
    assert "runtime log flush failed" in caplog.text
    writer.record(entry(2))
    assert await writer.flush() == 2
    assert [e.entry_id for e in store.written] == ["rt_1", "rt_2"]


class Unmakeable:
    """A buffered call whose entry cannot be made (a value redaction chokes on)."""

    def entry(self) -> RuntimeEntry:
        raise TypeError("cannot be made")


@pytest.mark.anyio
async def test_a_call_whose_entry_cannot_be_made_is_dropped_and_the_rest_written(
        caplog: pytest.LogCaptureFixture) -> None:
    store = FlakyStore()
    store.failures = 0
    writer = RuntimeLogWriter(cast(Store, store))
    writer.record(entry(1))
    writer.record(Unmakeable())
    writer.record(entry(2))
    assert await writer.flush() == 2
    assert [e.entry_id for e in store.written] == ["rt_1", "rt_2"]
    assert writer.pending == 0
    assert "could not be made" in caplog.text
