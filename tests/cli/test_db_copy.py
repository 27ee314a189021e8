"""`signoff db copy --from FILE --to URL`: a demo database moved into
PostgreSQL row for row (positions, hashes and documents as they were), the
target numbering on after the copied rows, a pending proposal approved and
executed there; a target that holds anything, a missing or too new source,
and a failure halfway all leave the target as it was; a source whose chain
is broken is copied faithfully and reported (exit 1); no password is shown."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import psycopg
import pytest

from signoff.server.app import Settings, build_app
from signoff.store.copy import CopyRefused, copy_sqlite_to_postgres, row_counts
from signoff.store.copy_tables import INDEXES, NAMES, TABLES, Table
from signoff.store.ports import UnitOfWork
from signoff.store.postgres.admin import tables as postgres_tables
from signoff.store.postgres.outbox import _row as adapter_outbox_row
from signoff.store.postgres.url import schema_of
from signoff.store.records import ConsoleSession, OutboxMessage
from signoff.store.sqlite.store import SqliteStore
from tests.cli.worlds import invoke
from tests.conftest import principal
from tests.core.helpers import pending_closure
from tests.store.postgres import scratch_schema

PASSWORD = "pg-secret-0815"  # trust auth ignores it; it must never be printed
AT = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


@pytest.fixture
def url() -> Iterator[str]:
    with scratch_schema() as plain:
        parts = urlsplit(plain)
        user, _, host = parts.netloc.rpartition("@")
        yield urlunsplit(parts._replace(netloc=f"{user}:{PASSWORD}@{host}"))


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo database with a bit of everything: a closure pending its
    second approval, outbox rows published, dead and leased, an inbox row,
    a checkpoint, a console session and a rebuilt projection."""
    folder = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as monkeypatch:
        played = invoke(monkeypatch, folder, "demo", "--db", "demo.db")
    assert played.exit_code == 0, played.output
    anyio.run(_enrich, folder / "demo.db")
    return folder / "demo.db"


async def _enrich(db: Path) -> None:
    async with await build_app(Settings(db=db)) as app:
        await pending_closure(app, principal(app, "user:carol"))
        pending = await app.store.read(
            lambda uow: uow.proposals.find(status="pending_approval"))
        await app.approvals.approve(principal(app, "user:alice"), pending[0].proposal_id,
                                    digest=None, channel="cli")

    def bookkeeping(uow: UnitOfWork) -> None:
        first, second, third = uow.outbox.claim("relay-old", AT, AT, limit=3)
        uow.outbox.complete("relay-old", first.message_id, AT)
        uow.outbox.fail("relay-old", second.message_id, "gone", None, dead=True)
        assert third.message_id  # stays leased to a relay that no longer runs
        uow.inbox.record("notifier", first.message_id, AT)
        uow.checkpoints.set("projector", uow.events.head())
        uow.console_sessions.create(ConsoleSession(
            session_hash="ab" * 32, principal_id="user:alice", created_at=AT, last_seen_at=AT,
            state={"tenant": "acme"}))
        generation = uow.read_models.begin_generation("copied")
        copied = uow.read_models.writer("acme", "copied", generation)
        copied.put("k", {"v": 1}, index="ix", text="copied words")
        uow.read_models.activate("copied", generation)

    async with SqliteStore(db) as store:
        await store.write(bookkeeping)


@pytest.fixture
def source(demo_db: Path, tmp_path: Path) -> Path:
    """A fresh copy of the demo database, for a test to spoil."""
    return Path(shutil.copy(demo_db, tmp_path / "signoff.db"))


def copy(monkeypatch: pytest.MonkeyPatch, cwd: Path, source: Path, url: str,
         *flags: str) -> Any:
    result = invoke(monkeypatch, cwd, "db", "copy", "--from", str(source), "--to", url, *flags)
    assert PASSWORD not in result.output  # stdout and stderr
    return result


def sqlite_rows(db: Path, table: Table) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return [tuple(r) for r in conn.execute(table.select())]


def postgres_rows(url: str, table: Table, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    order = table.order.replace("rowid", "seq")
    with psycopg.connect(url, autocommit=True) as conn:
        return [tuple(r) for r in conn.execute(
            f"SELECT {', '.join(columns)} FROM {table.name} ORDER BY {order}").fetchall()]


def same(sqlite_value: Any, postgres_value: Any) -> bool:
    """Equal as stored: an instant kept as text on SQLite and as timestamptz
    on PostgreSQL is the same instant."""
    if isinstance(postgres_value, datetime):
        parsed = datetime.fromisoformat(sqlite_value)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)) == postgres_value
    return bool(sqlite_value == postgres_value)


def test_the_copier_knows_every_table_of_both_schemas(tmp_path: Path) -> None:
    anyio.run(_open_and_close, tmp_path / "fresh.db")
    with closing(sqlite3.connect(tmp_path / "fresh.db")) as conn:
        on_sqlite = {r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
    # SQLite's full-text index is derived, and PostgreSQL keeps its own.
    assert set(NAMES) == on_sqlite - set(INDEXES) == set(postgres_tables()) - {"signoff_schema"}


async def _open_and_close(db: Path) -> None:
    async with SqliteStore(db):
        pass


def test_every_row_arrives_as_it_was(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: Path, url: str
) -> None:
    result = copy(monkeypatch, tmp_path, source, url, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ok"] is True
    assert summary["chain_verified"] is True
    assert "***" in summary["to"]

    expected = {t.name: len(sqlite_rows(source, t)) for t in TABLES}
    assert summary["tables"] == expected
    assert dict(row_counts(url)) == expected
    assert all(expected[name] > 0 for name in NAMES), expected  # the world has every kind
    for table in TABLES:
        old = sqlite_rows(source, table)
        new = postgres_rows(url, table, tuple(c for c in table.columns
                                              if c in table.source or c == "seq"))
        assert len(old) == len(new), table.name
        for before, after in zip(old, new, strict=True):
            assert all(same(b, a) for b, a in zip(before, after, strict=True)), (
                table.name, before, after)
    heads = postgres_rows(url, TABLES[0], ("position", "hash"))[-1]
    assert summary["head"] == {"position": heads[0], "hash": heads[1]}


def test_what_postgres_adds_is_what_its_adapter_writes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: Path, url: str
) -> None:
    assert copy(monkeypatch, tmp_path, source, url).exit_code == 0
    with psycopg.connect(url, autocommit=True) as conn:
        outbox = conn.execute(
            "SELECT doc, status, lease_owner, lease_until, order_group, event_position, "
            "event_hash FROM outbox ORDER BY position").fetchall()
        proposals = conn.execute("SELECT doc, event_ids FROM proposals").fetchall()
        searched = conn.execute("SELECT key FROM read_models "
                                "WHERE search_vector @@ to_tsquery('simple', 'words')").fetchall()
    for doc, status, owner, until, *derived in outbox:
        message = OutboxMessage.model_validate_json(doc).model_copy(update={"status": status})
        assert tuple(derived) == adapter_outbox_row(message)[6:9]
        assert (owner, until) == (None, None)  # no old relay's lease holds a row back
    assert any(event_position is not None for *_, event_position, _ in outbox)
    for doc, event_ids in proposals:
        assert event_ids == json.loads(doc)["event_ids"]
    assert searched == [("k",)]  # the copied search text, indexed by PostgreSQL


def test_a_pending_proposal_is_approved_and_executed_on_postgres(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: Path, url: str
) -> None:
    assert copy(monkeypatch, tmp_path, source, url).exit_code == 0
    before = row_counts(url)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT max(position) FROM outbox").fetchone()
    assert row is not None
    outbox_max = int(row[0])
    head, new_positions = anyio.run(_approve_the_pending_closure, url)

    assert new_positions[0] == head + 1  # the log continues after the copied head
    with psycopg.connect(url, autocommit=True) as conn:
        added = [int(r[0]) for r in conn.execute(
            "SELECT position FROM outbox WHERE position > %s", (outbox_max,)).fetchall()]
    assert len(added) == row_counts(url)["outbox"] - before["outbox"] > 0
    verified = invoke(monkeypatch, tmp_path, "audit", "verify", "--db", url)
    assert verified.exit_code == 0, verified.output


async def _approve_the_pending_closure(url: str) -> tuple[int, list[int]]:
    async with await build_app(Settings(db=url)) as app:
        pending = await app.store.read(
            lambda uow: uow.proposals.find(status="pending_approval"))
        assert [p.command_type for p in pending] == ["case.close"]
        head = await app.store.read(lambda uow: uow.events.head())
        result = await app.approvals.approve(principal(app, "user:bob"),
                                             pending[0].proposal_id, digest=None, channel="cli")
    assert result.proposal.status == "executed"
    assert result.execution is not None
    return head, [e.position for e in result.execution.events]


def test_a_target_that_holds_anything_is_refused_and_left_as_it_was(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: Path, url: str
) -> None:
    assert copy(monkeypatch, tmp_path, source, url, "--json").exit_code == 0
    copied = row_counts(url)
    again = copy(monkeypatch, tmp_path, source, url)
    assert again.exit_code == 2
    assert "not empty" in again.output
    assert row_counts(url) == copied

    with scratch_schema() as other:  # a single row of anything is enough to refuse
        assert invoke(monkeypatch, tmp_path, "db", "migrate", "--db", other).exit_code == 0
        with psycopg.connect(other, autocommit=True) as conn:
            conn.execute("INSERT INTO checkpoints (name, position) VALUES ('projector', 0)")
        refused = copy(monkeypatch, tmp_path, source, other)
        assert refused.exit_code == 2
        assert "checkpoints" in refused.output
        assert {n: c for n, c in row_counts(other).items() if c} == {"checkpoints": 1}


def test_a_missing_source_fails_clearly_and_touches_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str
) -> None:
    result = copy(monkeypatch, tmp_path, tmp_path / "nowhere.db", url)
    assert result.exit_code == 2
    assert "no database at" in result.output
    assert "nowhere.db" in result.output
    assert not (tmp_path / "nowhere.db").exists()
    with psycopg.connect(url, autocommit=True) as conn:  # not even migrated
        assert conn.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
                            (schema_of(url),)).fetchall() == []


def test_a_source_newer_than_this_signoff_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: Path, url: str
) -> None:
    with closing(sqlite3.connect(source)) as conn:
        conn.execute("PRAGMA user_version = 999")
    result = copy(monkeypatch, tmp_path, source, url)
    assert result.exit_code == 2
    assert "newer than this signoff" in result.output


class Quiet:
    def planned(self, counts: Mapping[str, int]) -> None:
        pass

    def copied(self, table: str, rows: int) -> None:
        pass


def test_a_failure_halfway_leaves_the_target_empty(source: Path, url: str) -> None:
    class Crash(Quiet):
        def copied(self, table: str, rows: int) -> None:
            if table == "outbox":  # events and proposals are in by now
                raise RuntimeError("the machine went down")

    with pytest.raises(RuntimeError, match="went down"):
        copy_sqlite_to_postgres(source, url, Crash())
    assert set(row_counts(url).values()) == {0}
    with pytest.raises(CopyRefused, match="no database"):
        copy_sqlite_to_postgres(source.with_name("missing.db"), url, Quiet())


def test_a_broken_chain_is_copied_as_it_is_and_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: Path, url: str
) -> None:
    with closing(sqlite3.connect(source)) as conn:
        conn.execute("DROP TRIGGER events_no_update")
        conn.execute("UPDATE events SET payload = '{\"edited\":true}' WHERE position = 3")
        conn.commit()
    result = copy(monkeypatch, tmp_path, source, url, "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["chain_verified"] is False
    assert any("position 3" in p for p in summary["problems"])
    assert "differs from its source" in result.output


def test_the_target_is_a_postgres_url_and_the_source_a_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: Path
) -> None:
    to_file = invoke(monkeypatch, tmp_path, "db", "copy", "--from", str(source), "--to", "b.db")
    assert to_file.exit_code == 2
    assert "postgresql:// URL" in to_file.output
    from_url = invoke(monkeypatch, tmp_path, "db", "copy", "--from",
                      f"postgresql://u:{PASSWORD}@h/db", "--to", f"postgresql://u:{PASSWORD}@h/db")
    assert from_url.exit_code == 2
    assert "SQLite database file" in from_url.output
    assert PASSWORD not in from_url.output


def test_a_target_another_process_is_writing_to_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, source: Path, url: str
) -> None:
    assert invoke(monkeypatch, tmp_path, "db", "migrate", "--db", url).exit_code == 0
    monkeypatch.setattr("signoff.store.copy.LOCK_TIMEOUT", "200ms")
    with psycopg.connect(url) as writer:  # a transaction still open, as a serve's would be
        writer.execute("INSERT INTO checkpoints (name, position) VALUES ('projector', 0)")
        with pytest.raises(CopyRefused, match="in use"):
            copy_sqlite_to_postgres(source, url, Quiet())
        writer.rollback()
    assert set(row_counts(url).values()) == {0}
