"""`signoff install-claude`: create, merge, refuse a broken file, dry run."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from signoff.server.cli import app as cli
from signoff.server.ops.claude_desktop import default_config_path


def install(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["install-claude", *args])
    return result.exit_code, result.output


def test_creates_then_merges_keeping_everything_else(tmp_path: Path) -> None:
    config, db = tmp_path / "Claude" / "claude_desktop_config.json", tmp_path / "x.db"
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
    config = tmp_path / "claude_desktop_config.json"
    for broken in ('{"mcpServers": {', "[1, 2]", '{"mcpServers": []}'):
        config.write_text(broken)
        code, output = install("--config", str(config), "--db", str(tmp_path / "x.db"))
        assert code == 1
        assert "untouched" in output
        assert config.read_text() == broken


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
