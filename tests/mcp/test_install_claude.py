"""`signoff install-claude`: create, merge, refuse a broken file, dry run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from signoff.server.cli import app as cli
from signoff.server.ops.claude_desktop import default_config_path


def install(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["install-claude", *args])
    return result.exit_code, result.output


def test_creates_then_merges_keeping_everything_else(tmp_path: Path) -> None:
    config, db = tmp_path / "Claude" / "claude_desktop_config.json", tmp_path / "x.db"
    db.touch()
    code, _ = install("--config", str(config), "--db", str(db))
    assert code == 0
    entry = json.loads(config.read_text())["mcpServers"]["signoff"]
    assert Path(entry["command"]).is_absolute()
    assert entry["args"] == ["serve", "--db", str(db.resolve()), "--principal", "agent:triage",
                             "--tenant", "acme"]

    config.write_text(json.dumps({"theme": "dark", "mcpServers": {
        "other": {"command": "other-server"}, "signoff": {"command": "stale"}}}))
    code, _ = install("--config", str(config), "--db", str(db), "--principal", "user:alice",
                      "--name", "signoff")
    assert code == 0
    merged = json.loads(config.read_text())
    assert merged["theme"] == "dark"
    assert merged["mcpServers"]["other"] == {"command": "other-server"}
    assert merged["mcpServers"]["signoff"]["args"][4] == "user:alice"


def test_refuses_a_file_that_is_not_json_and_leaves_it(tmp_path: Path) -> None:
    config, db = tmp_path / "claude_desktop_config.json", tmp_path / "x.db"
    db.touch()
    for broken in ('{"mcpServers": {', "[1, 2]", '{"mcpServers": []}'):
        config.write_text(broken)
        code, output = install("--config", str(config), "--db", str(db))
        assert code == 1
        assert "untouched" in output
        assert config.read_text() == broken


def install_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signoff.server.cli", "install-claude", *args],
                          capture_output=True, text=True, timeout=60, check=False,
                          stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "400"})


def test_refuses_a_database_that_does_not_exist_unless_forced(tmp_path: Path) -> None:
    config, db = tmp_path / "claude_desktop_config.json", tmp_path / "typo.db"
    refused = install_process("--config", str(config), "--db", str(db))
    assert refused.returncode == 2
    assert f"no database at {db}" in " ".join(refused.stderr.split())
    assert "--force" in refused.stderr
    assert not config.exists()
    assert not db.exists()
    forced = install_process("--config", str(config), "--db", str(db), "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads(config.read_text())["mcpServers"]["signoff"]["args"][2] == str(db)
    assert not db.exists()  # an entry for a database to come; none is created


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "claude_desktop_config.json"
    code, output = install("--config", str(config), "--db", str(tmp_path / "x.db"), "--dry-run")
    assert code == 0
    assert json.loads(output)["mcpServers"]["signoff"]["args"][0] == "serve"
    assert not config.exists()


def test_default_config_path_per_os(tmp_path: Path) -> None:
    assert default_config_path("darwin", {}, tmp_path) == (
        tmp_path / "Library/Application Support/Claude/claude_desktop_config.json")
    assert default_config_path("win32", {"APPDATA": str(tmp_path / "AppData")}, tmp_path) == (
        tmp_path / "AppData/Claude/claude_desktop_config.json")
    assert default_config_path("linux", {}, tmp_path) == (
        tmp_path / ".config/Claude/claude_desktop_config.json")
