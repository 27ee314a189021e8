"""`signoff install-claude --gateway PATH [--replace]`: the signoff entry
serves the gateway; with --replace the entries behind it go (by command line
or by name), the rest stay, and the old config is backed up first. Nothing
here starts an upstream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.gateway.cli import signoff

TOKEN = "ghp_fake0token0for0the0install0test"


def gateway_file(path: Path) -> Path:
    path.write_text("""\
[[upstream]]
name = "repo"
command = ["mcp-server-git", "--repository", "/srv/repo"]
env = { GITHUB_TOKEN = "env:GITHUB_TOKEN" }

[upstream.tools]
read = ["git_status"]
propose = ["git_commit"]

[[upstream]]
name = "notes"
command = ["notes-server", "--dir", "/srv/notes"]

[upstream.tools]
read = ["read_note"]
""")
    return path


CLAUDE: dict[str, Any] = {"theme": "dark", "mcpServers": {
    # Behind the gateway by its command line (its key is no upstream's name).
    "Git Repo": {"command": "mcp-server-git", "args": ["--repository", "/srv/repo"],
                 "env": {"GITHUB_TOKEN": TOKEN}},
    # Behind it by its name (`gateway init` names the upstream "notes").
    "Notes": {"command": "npx", "args": ["-y", "notes-server"]},
    "weather": {"command": "weather-server"},
}}


def setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    config = tmp_path / "claude_desktop_config.json"
    config.write_text(json.dumps(CLAUDE, indent=2))
    db = tmp_path / "signoff.db"
    db.touch()
    return config, db, gateway_file(tmp_path / "gateway.toml")


def install(config: Path, db: Path, gateway: Path, *more: str) -> tuple[int, str]:
    result = signoff("install-claude", "--config", str(config), "--db", str(db),
                     "--gateway", str(gateway), *more)
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def test_replace_swaps_the_entries_behind_the_gateway_for_signoff(tmp_path: Path) -> None:
    config, db, gateway = setup(tmp_path)
    before = config.read_text()
    policy = tmp_path / "policy.toml"
    policy.write_text("")
    code, output = install(config, db, gateway, "--policy", str(policy), "--replace")
    assert code == 0, output
    written = json.loads(config.read_text())
    assert written["theme"] == "dark"
    assert set(written["mcpServers"]) == {"weather", "signoff"}
    entry = written["mcpServers"]["signoff"]
    assert entry["args"][:3] == ["serve", "--gateway", str(gateway.resolve())]
    assert entry["args"][entry["args"].index("--db") + 1] == str(db.resolve())
    assert entry["args"][entry["args"].index("--policy") + 1] == str(policy.resolve())
    # The removed entry's secret moves into signoff's entry, for env:GITHUB_TOKEN.
    assert entry["env"] == {"GITHUB_TOKEN": TOKEN}
    assert "Removed from mcpServers, now behind the gateway: Git Repo, Notes." in output
    assert TOKEN not in output
    [backup] = tmp_path.glob("claude_desktop_config.json.bak-*")
    assert backup.read_text() == before
    assert str(backup) in output


def test_without_replace_the_entries_stay_and_are_named(tmp_path: Path) -> None:
    config, db, gateway = setup(tmp_path)
    code, output = install(config, db, gateway)
    assert code == 0, output
    written = json.loads(config.read_text())
    assert set(written["mcpServers"]) == {"Git Repo", "Notes", "weather", "signoff"}
    assert "env" not in written["mcpServers"]["signoff"]  # no secret copied
    assert "Still in mcpServers, and behind the gateway too: Git Repo, Notes." in output
    assert "GITHUB_TOKEN" in output  # the variable serve will need, not set for it
    assert not list(tmp_path.glob("*.bak-*"))


def test_a_second_install_keeps_the_env_the_first_moved(tmp_path: Path) -> None:
    config, db, gateway = setup(tmp_path)
    assert install(config, db, gateway, "--replace")[0] == 0
    code, output = install(config, db, gateway, "--principal", "agent:claude")
    assert code == 0, output
    entry = json.loads(config.read_text())["mcpServers"]["signoff"]
    assert entry["env"] == {"GITHUB_TOKEN": TOKEN}
    assert "agent:claude" in entry["args"]


def test_replace_needs_a_gateway_and_a_bad_gateway_file_writes_nothing(
        tmp_path: Path) -> None:
    config, db, gateway = setup(tmp_path)
    before = config.read_text()
    result = signoff("install-claude", "--config", str(config), "--db", str(db), "--replace")
    assert result.returncode == 2
    assert "needs --gateway" in result.stderr
    gateway.write_text('[[upstream]]\nname = "repo"\n')
    code, output = install(config, db, gateway, "--replace")
    assert code == 2
    assert "gateway.toml" in output
    assert config.read_text() == before
    assert not list(tmp_path.glob("*.bak-*"))


def test_dry_run_shows_what_would_go_and_hides_env_values(tmp_path: Path) -> None:
    config, db, gateway = setup(tmp_path)
    before = config.read_text()
    result = signoff("install-claude", "--config", str(config), "--db", str(db),
                     "--gateway", str(gateway), "--replace", "--dry-run")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["removed"] == ["Git Repo", "Notes"]
    assert doc["mcpServers"]["signoff"]["env"] == {"GITHUB_TOKEN": "<hidden>"}
    assert TOKEN not in result.stdout
    assert config.read_text() == before
