"""Deleting the newest events leaves an intact chain; `audit verify` must see
it from what refers to them (issue 10, item 2), and from anchors."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import anyio
import pytest

from signoff.policies import PrincipalFacts
from signoff.server.app import App
from signoff.server.state.projector import Projector
from signoff.store.canonical import event_hash
from signoff.store.sqlite.rows import SELECT_EVENTS, row_to_event
from signoff.store.sqlite.store import open_sqlite
from tests.core.helpers import invoke
from tests.core.test_replay_and_audit import busy_day

pytestmark = pytest.mark.anyio


def _drop_guards(conn: sqlite3.Connection, table: str) -> list[str]:
    """What a tamperer with file access does first: drop the table's triggers
    (returned, to put them back afterwards)."""
    triggers = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)
    ).fetchall()
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    return [sql for _, sql in triggers]


def delete_newest_events(db: Path, count: int, *, also: tuple[str, ...] = ()) -> list[str]:
    """Delete the `count` newest events, guards dropped and put back; `also`
    deletes what names them in those tables too. Returns their ids."""
    with sqlite3.connect(db) as conn:
        head = conn.execute("SELECT MAX(position) FROM events").fetchone()[0]
        ids = [row[0] for row in conn.execute(
            "SELECT event_id FROM events WHERE position > ?", (head - count,))]
        marks = ", ".join("?" * len(ids))
        statements = {
            "events": f"DELETE FROM events WHERE event_id IN ({marks})",
            "outbox": f"DELETE FROM outbox WHERE message_id IN ({marks})",
            "proposals": "DELETE FROM proposals WHERE EXISTS (SELECT 1 FROM "
                         f"json_each(doc, '$.event_ids') WHERE value IN ({marks}))",
        }
        for table in ("events", *also):
            guards = _drop_guards(conn, table)
            conn.execute(statements[table], ids)
            for sql in guards:
                conn.execute(sql)
    return ids


async def verify(db: Path, *extra: str) -> tuple[int, dict[str, object], str]:
    result = await invoke(["audit", "verify", "--db", str(db), *extra])
    as_json = await invoke(["audit", "verify", "--db", str(db), "--json", *extra])
    assert as_json.exit_code == result.exit_code, as_json.output
    return result.exit_code, json.loads(as_json.output), result.output


@pytest.fixture
async def busy(app: App, agent: PrincipalFacts, alice: PrincipalFacts) -> App:
    """A database where proposals executed and every projection caught up."""
    await busy_day(app, agent, alice)
    await Projector(app.store, app.domain, app.upcaster).catch_up()
    await app.close()
    return app


async def test_an_untouched_log_passes(busy: App, db: Path) -> None:
    code, report, text = await verify(db)
    assert code == 0, text
    assert report["ok"] is True
    assert "chain intact" in text


@pytest.mark.parametrize(("also", "named"), [
    ((), "outbox message"),
    (("outbox",), "proposal"),
    # The command's result is the proposal itself; with it gone, the
    # projections' checkpoints past the head still give the deletion away.
    (("outbox", "proposals"), "checkpoint"),
])
async def test_deleting_the_newest_event_fails_verify(
    busy: App, db: Path, also: tuple[str, ...], named: str
) -> None:
    with sqlite3.connect(db) as conn:
        head = conn.execute("SELECT MAX(position) FROM events").fetchone()[0]
    deleted = delete_newest_events(db, 1, also=also)
    code, report, text = await verify(db)
    assert code == 1, text
    assert report["ok"] is False
    assert report["head"] == head - 1
    assert report["broken_at"] == head
    problem = str(report["problem"])
    assert named in problem
    assert deleted[0] in problem or str(head) in problem
    assert "BROKEN" in text


async def test_deleting_events_only_a_checkpoint_passed_fails_verify(
    app: App, db: Path
) -> None:
    """Seed events have no proposal: once the projector read past them, its
    checkpoint still says how far the log went."""
    await Projector(app.store, app.domain, app.upcaster).catch_up()
    await app.close()
    delete_newest_events(db, 2, also=("outbox",))
    code, report, text = await verify(db)
    assert code == 1, text
    assert "checkpoint" in str(report["problem"])


async def test_verify_exits_1_in_a_real_process(busy: App, db: Path) -> None:
    delete_newest_events(db, 1)
    broken = await anyio.run_process(
        [sys.executable, "-m", "signoff.server.cli", "audit", "verify", "--db", str(db)],
        check=False,
    )
    assert broken.returncode == 1, broken.stderr.decode()
    assert "BROKEN" in broken.stdout.decode()


def clean_up_after(db: Path) -> None:
    """What a thorough tamperer does after deleting events: forget what named
    them. The referrer checks then have nothing left to go on."""
    with sqlite3.connect(db) as conn:
        head = conn.execute("SELECT MAX(position) FROM events").fetchone()[0]
        conn.execute("UPDATE checkpoints SET position = MIN(position, ?)", (head,))


def rewrite_history(db: Path) -> None:
    """Edit the first event and rebuild the chain after it, dropping the
    outbox rows that carry the old hashes."""
    with sqlite3.connect(db) as conn:
        guards = _drop_guards(conn, "events")
        previous = ""
        for row in conn.execute(f"{SELECT_EVENTS} ORDER BY position").fetchall():
            event = row_to_event(row)
            if event.position == 1:
                event = event.model_copy(update={"actor_id": "someone:else"})
            event = event.model_copy(update={"prev_hash": previous})
            previous = event_hash(event)
            conn.execute("UPDATE events SET actor_id = ?, prev_hash = ?, hash = ? "
                         "WHERE position = ?",
                         (event.actor_id, event.prev_hash, previous, event.position))
        for sql in guards:
            conn.execute(sql)
        conn.execute("DELETE FROM outbox")


async def anchor(db: Path, out: Path) -> dict[str, object]:
    result = await invoke(["audit", "anchor", "--db", str(db), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    taken: dict[str, object] = json.loads(result.output)
    return taken


async def test_anchor_prints_the_head_and_an_intact_log_keeps_it(busy: App, db: Path,
                                                                 tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.jsonl"
    first = await anchor(db, anchors)
    with sqlite3.connect(db) as conn:
        head, hash_ = conn.execute(
            "SELECT position, hash FROM events ORDER BY position DESC LIMIT 1").fetchone()
    assert (first["position"], first["hash"]) == (head, hash_)
    plain = await invoke(["audit", "anchor", "--db", str(db), "--out", str(anchors)])
    assert plain.exit_code == 0, plain.output
    assert f"position {head}, hash {hash_}" in plain.output
    lines = [json.loads(line) for line in anchors.read_text().splitlines()]
    assert [(a["position"], a["hash"]) for a in lines] == [(head, hash_)] * 2
    code, report, text = await verify(db, "--anchor", str(anchors))
    assert code == 0, text
    assert report["anchors_checked"] == 2
    assert "2 anchor(s) hold" in text


async def test_truncation_past_an_anchor_fails_verify(busy: App, db: Path,
                                                      tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.jsonl"
    taken = await anchor(db, anchors)
    delete_newest_events(db, 2, also=("outbox", "proposals"))
    clean_up_after(db)
    code, _, text = await verify(db)
    assert code == 0, "without the anchor, nothing is left to notice the deletion"
    code, report, text = await verify(db, "--anchor", str(anchors))
    assert code == 1, text
    assert report["broken_at"] == taken["position"]
    assert "truncated past the anchor" in str(report["problem"])


async def test_rewriting_history_before_an_anchor_fails_verify(busy: App, db: Path,
                                                               tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.jsonl"
    taken = await anchor(db, anchors)
    rewrite_history(db)
    code, _, text = await verify(db)
    assert code == 0, "a rebuilt chain is intact in itself"
    code, report, text = await verify(db, "--anchor", str(anchors))
    assert code == 1, text
    assert report["broken_at"] == taken["position"]
    assert "rewritten" in str(report["problem"])


async def test_an_empty_log_has_nothing_to_anchor(db: Path, tmp_path: Path) -> None:
    await (await open_sqlite(db)).close()
    anchors = tmp_path / "anchors.jsonl"
    result = await invoke(["audit", "anchor", "--db", str(db), "--out", str(anchors)])
    assert result.exit_code == 1, result.output
    assert "nothing to anchor" in result.output
    assert not anchors.exists()


GOOD_HASH = "a" * 64


@pytest.mark.parametrize(("content", "problem"), [
    (None, "cannot read anchor file"),
    ("", "holds no anchor"),
    ("\n\n", "holds no anchor"),
    ("not json\n", ":1: not JSON"),
    (f'{{"position": 3, "hash": "{GOOD_HASH}"}}\n[1, 2]\n', ":2: expected"),
    (f'{{"position": 0, "hash": "{GOOD_HASH}"}}\n', ":1: expected"),
    (f'{{"position": "3", "hash": "{GOOD_HASH}"}}\n', ":1: expected"),
    (f'{{"position": true, "hash": "{GOOD_HASH}"}}\n', ":1: expected"),
    ('{"position": 3, "hash": "abc"}\n', ":1: expected"),
    ('{"position": 3}\n', ":1: expected"),
])
async def test_a_bad_anchor_file_is_a_usage_error(
    busy: App, db: Path, tmp_path: Path, content: str | None, problem: str
) -> None:
    anchors = tmp_path / "anchors.jsonl"
    if content is not None:
        anchors.write_text(content)
    result = await invoke(["audit", "verify", "--db", str(db), "--anchor", str(anchors)])
    assert result.exit_code == 2, result.output
    assert problem in result.output
    assert "Traceback" not in result.output
