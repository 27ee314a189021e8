"""Every command takes a `postgresql://` URL for `--db` (or `$SIGNOFF_DB`):
the demo seeds and plays on it, refuses one that holds data unless forced,
`--force` drops only signoff's tables there, `db migrate` is idempotent, and
a password in the URL never reaches what a command prints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.cli.worlds import invoke
from tests.store.postgres import scratch_schema

PASSWORD = "pg-secret-4711"  # trust auth ignores it; it must never be printed


@pytest.fixture
def url() -> Iterator[str]:
    with scratch_schema() as plain:
        parts = urlsplit(plain)
        user, _, host = parts.netloc.rpartition("@")
        yield urlunsplit(parts._replace(netloc=f"{user}:{PASSWORD}@{host}"))


def events_in(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def test_the_demo_plays_on_postgres_and_refuses_a_store_with_history(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str
) -> None:
    first = invoke(monkeypatch, tmp_path, "demo", "--db", url)
    assert first.exit_code == 0, first.output
    assert "***" in first.output
    assert PASSWORD not in first.output
    seeded = events_in(url)
    assert seeded > 0

    again = invoke(monkeypatch, tmp_path, "demo", "--db", url)
    assert again.exit_code == 2
    assert "not empty" in again.output
    assert PASSWORD not in again.output
    assert events_in(url) == seeded


def test_force_drops_only_signoffs_tables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str
) -> None:
    assert invoke(monkeypatch, tmp_path, "demo", "--db", url).exit_code == 0
    seeded = events_in(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE someone_elses (note text)")
        conn.execute("INSERT INTO someone_elses VALUES ('keep me')")

    forced = invoke(monkeypatch, tmp_path, "demo", "--db", url, "--force")
    assert forced.exit_code == 0, forced.output
    assert events_in(url) == seeded  # a fresh demo, not one on top of the last
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT note FROM someone_elses").fetchall() == [("keep me",)]


def test_db_migrate_is_idempotent_and_shows_no_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str
) -> None:
    runs = [invoke(monkeypatch, tmp_path, "db", "migrate", "--json", SIGNOFF_DB=url)
            for _ in range(2)]
    assert [r.exit_code for r in runs] == [0, 0], runs[0].output
    reports = [json.loads(r.output) for r in runs]
    assert reports[0] == reports[1]
    assert reports[0]["schema_version"] >= 1
    assert PASSWORD not in reports[0]["db"]
    assert "***" in reports[0]["db"]


def test_config_hides_the_password(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str
) -> None:
    shown = invoke(monkeypatch, tmp_path, "config", SIGNOFF_DB=url)
    assert shown.exit_code == 0, shown.output
    assert PASSWORD not in shown.output
    assert "***" in shown.output


def test_install_claude_puts_the_url_in_the_environment_and_prints_it_hidden(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str
) -> None:
    config = tmp_path / "claude_desktop_config.json"
    dry = invoke(monkeypatch, tmp_path, "install-claude", "--db", url, "--config", str(config),
                 "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert PASSWORD not in dry.output

    done = invoke(monkeypatch, tmp_path, "install-claude", "--db", url, "--config", str(config))
    assert done.exit_code == 0, done.output
    assert PASSWORD not in done.output
    entry = json.loads(config.read_text())["mcpServers"]["signoff"]
    assert "--db" not in entry["args"]  # not in any process listing
    assert entry["env"]["SIGNOFF_DB"] == url  # what serve needs to connect
