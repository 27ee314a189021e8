"""`signoff db migrate` makes a database for a system without demo data."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from signoff.server.app import Settings, build_app, load_domain

pytestmark = pytest.mark.anyio


def migrate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signoff.server.cli", "db", "migrate", *args],
                          capture_output=True, text=True, timeout=60, check=False,
                          stdin=subprocess.DEVNULL)


def test_migrate_creates_then_leaves_an_up_to_date_database(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    first = migrate("--db", str(db), "--json")
    assert first.returncode == 0, first.stderr
    version = json.loads(first.stdout)["schema_version"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == version
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
    again = migrate("--db", str(db), "--json")
    assert json.loads(again.stdout)["schema_version"] == version


def test_a_database_that_cannot_be_made_is_one_clear_line(tmp_path: Path) -> None:
    result = migrate("--db", str(tmp_path / "missing" / "dir" / "x.db"))
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot open")


async def test_the_domain_none_has_no_commands_for_a_gateway_alone(tmp_path: Path) -> None:
    assert load_domain("none").commands == ()
    policy = tmp_path / "policy.toml"
    policy.write_text('[queries]\ndefault = { kinds = ["agent"] }\n')
    async with await build_app(Settings(db=tmp_path / "x.db", domain="none",
                                        policy=policy)) as app:
        assert app.commands.names() == []
