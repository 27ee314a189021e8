"""`signoff gateway init --from-claude-config`: a Claude Desktop config with
the real `mcp-server-git` (holding a fake secret in its env), a server that
does not start and a remote one, adopted in one run (made once: starting
servers takes seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from signoff.server.cli.gateway_init import STARTER_AGENT, STARTER_TENANT
from signoff.server.gateway import STARTER_PRINCIPALS, load_gateway
from tests.gateway.cli import scratch_repo, signoff

SECRET = "ghp_fake0secret0value0for0the0test0only"
FILES = ("gateway.toml", "policy.toml", "principals.toml")
Adopted = tuple[Path, subprocess.CompletedProcess[str]]


def claude_config(path: Path, repo: Path) -> Path:
    path.write_text(json.dumps({"theme": "dark", "mcpServers": {
        "Git Repo": {"command": "mcp-server-git", "args": ["--repository", str(repo)],
                     "env": {"GITHUB_TOKEN": SECRET}},
        "broken": {"command": sys.executable, "args": ["-c", "import sys; sys.exit(3)"]},
        "remote": {"type": "http", "url": "https://example.test/mcp"},
    }}))
    return path


@pytest.fixture(scope="module")
def adopted(tmp_path_factory: pytest.TempPathFactory) -> Adopted:
    base = tmp_path_factory.mktemp("adopted")
    config = claude_config(base / "claude_desktop_config.json", scratch_repo(base / "repo"))
    result = signoff("gateway", "init", "--from-claude-config", str(config),
                     "--out", str(base / "setup" / "gateway.toml"))
    assert result.returncode == 0, result.stderr
    return base / "setup", result


def test_the_gateway_file_names_the_secret_and_never_holds_it(
        adopted: Adopted) -> None:
    setup, result = adopted
    gateway = tomllib.loads((setup / "gateway.toml").read_text())
    [repo] = [u for u in gateway["upstream"] if u["name"] == "git_repo"]
    assert repo["env"] == {"GITHUB_TOKEN": "env:GITHUB_TOKEN"}
    for name in FILES:
        assert SECRET not in (setup / name).read_text()
    assert SECRET not in result.stdout + result.stderr


def test_git_tools_are_split_by_their_read_only_hint(
        adopted: Adopted) -> None:
    setup, _ = adopted
    [repo] = [u for u in tomllib.loads((setup / "gateway.toml").read_text())["upstream"]
              if u["name"] == "git_repo"]
    assert {"git_status", "git_log", "git_diff_staged", "git_show"} <= set(repo["tools"]["read"])
    assert {"git_add", "git_commit", "git_reset"} <= set(repo["tools"]["propose"])
    assert not set(repo["tools"]["read"]) & set(repo["tools"]["propose"])


def test_a_server_that_does_not_start_is_written_with_empty_lists_and_why(
        adopted: Adopted) -> None:
    setup, result = adopted
    text = (setup / "gateway.toml").read_text()
    [broken] = [u for u in tomllib.loads(text)["upstream"] if u["name"] == "broken"]
    assert broken["tools"] == {"read": [], "propose": []}
    comment = text[:text.index('name = "broken"')].rsplit("[[upstream]]", 2)[-2]
    assert "# Could not be listed" in comment
    assert "exited with code 3" in comment
    assert "broken: could not be listed" in result.stdout


def test_a_remote_server_is_left_out_and_said_so(
        adopted: Adopted) -> None:
    setup, result = adopted
    names = [u["name"] for u in tomllib.loads((setup / "gateway.toml").read_text())["upstream"]]
    assert names == ["git_repo", "broken"]
    assert "mcpServers.remote is not a stdio server" in result.stderr


def test_the_starter_policy_asks_a_reviewer_and_the_next_steps_are_printed(
        adopted: Adopted) -> None:
    setup, result = adopted
    policy = tomllib.loads((setup / "policy.toml").read_text())
    assert [r["commands"] for r in policy["rule"]] == [["tool.git_repo.*"]]
    assert (setup / "principals.toml").read_text() == STARTER_PRINCIPALS
    gateway = str(setup / "gateway.toml")
    steps = " ".join(result.stdout.split())
    assert "GITHUB_TOKEN" in steps
    assert f"signoff gateway pin {gateway}" in steps
    assert f"signoff serve --gateway {gateway} --policy {setup / 'policy.toml'}" in steps
    assert f"signoff install-claude --gateway {gateway}" in steps
    assert "--replace" in steps


def test_once_the_empty_table_is_gone_the_file_loads(
        adopted: Adopted, tmp_path: Path) -> None:
    setup, _ = adopted
    text = (setup / "gateway.toml").read_text()
    kept = tmp_path / "gateway.toml"
    kept.write_text(text[:text.index("# Could not be listed")])
    assert [u.name for u in load_gateway(kept).upstreams] == ["git_repo"]


def test_the_printed_principal_and_tenant_are_the_starter_principals() -> None:
    assert f'id = "{STARTER_AGENT}"' in STARTER_PRINCIPALS
    assert f'tenants = ["{STARTER_TENANT}"]' in STARTER_PRINCIPALS


def test_existing_files_are_never_overwritten_without_force(tmp_path: Path) -> None:
    config = claude_config(tmp_path / "claude_desktop_config.json", tmp_path / "never-started")
    (tmp_path / "policy.toml").write_text("# mine\n")
    result = signoff("gateway", "init", "--from-claude-config", str(config),
                     "--out", str(tmp_path / "gateway.toml"))
    assert result.returncode == 2
    assert "--force" in result.stderr
    assert (tmp_path / "policy.toml").read_text() == "# mine\n"
    assert not (tmp_path / "gateway.toml").exists()
    assert not (tmp_path / "principals.toml").exists()


def test_install_claude_replace_swaps_the_adopted_entry(adopted: Adopted,
                                                         tmp_path: Path) -> None:
    setup, _ = adopted
    text = (setup / "gateway.toml").read_text()
    gateway = tmp_path / "gateway.toml"
    gateway.write_text(text[:text.index("# Could not be listed")])  # the broken one left out
    config = setup.parent / "claude_desktop_config.json"
    copy = tmp_path / "claude_desktop_config.json"
    copy.write_text(config.read_text())
    db = tmp_path / "signoff.db"
    db.touch()
    result = signoff("install-claude", "--config", str(copy), "--db", str(db),
                     "--gateway", str(gateway), "--principal", STARTER_AGENT,
                     "--tenant", STARTER_TENANT, "--replace")
    assert result.returncode == 0, result.stderr
    servers = json.loads(copy.read_text())["mcpServers"]
    assert set(servers) == {"broken", "remote", "signoff"}
    assert servers["signoff"]["args"][:3] == ["serve", "--gateway", str(gateway.resolve())]
    assert servers["signoff"]["env"] == {"GITHUB_TOKEN": SECRET}
    [backup] = tmp_path.glob("claude_desktop_config.json.bak-*")
    assert backup.read_text() == config.read_text()
    assert "Git Repo" in result.stdout
