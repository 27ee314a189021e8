"""Adopting a Claude Desktop config: a gateway file, a starter policy and
principals that load as `serve` would load them, and no secret copied."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp_types import Tool, ToolAnnotations

from signoff.policies import load_policy
from signoff.policies.principals import PrincipalsFile
from signoff.server.errors import ConfigError
from signoff.server.gateway.adopt import (
    STARTER_PRINCIPALS,
    claude_servers,
    gateway_file,
    starter_policy,
)
from signoff.server.gateway.config import load_gateway

SECRET = "ghp_0123456789abcdefSECRET"
CONFIG = {
    "mcpServers": {
        "Git Repo": {"command": "mcp-server-git", "args": ["--repository", "/srv/repo"]},
        "github": {"command": "npx", "args": ["-y", "gh-mcp"],
                   "env": {"GITHUB_TOKEN": SECRET, "LOG_LEVEL": "debug"}},
        "signoff": {"command": "/usr/bin/signoff", "args": ["serve"]},
    },
    "otherSetting": True,
}


def tool(name: str, read_only: bool | None) -> Tool:
    annotations = None if read_only is None else ToolAnnotations(read_only_hint=read_only)
    return Tool(name=name, input_schema={"type": "object"}, annotations=annotations)


LISTED = {
    "git_repo": [tool("git_status", True), tool("git_commit", False), tool("git_log", True)],
    "github": [tool("create_issue", None)],
}


def test_servers_are_named_for_the_gateway_and_signoff_is_left_out() -> None:
    servers = claude_servers(CONFIG)
    assert [(s.key, s.name) for s in servers] == [("Git Repo", "git_repo"),
                                                  ("github", "github")]
    assert servers[0].argv == ("mcp-server-git", "--repository", "/srv/repo")


def test_the_gateway_file_loads_and_copies_no_secret(tmp_path: Path) -> None:
    text = gateway_file(claude_servers(CONFIG), LISTED)
    assert SECRET not in text
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    config = load_gateway(path)
    git, github = config.upstreams
    assert git.tools.read == ("git_log", "git_status")
    assert git.tools.propose == ("git_commit",)
    # unannotated tools are claims of nothing: they wait for a reviewer
    assert github.tools.propose == ("create_issue",)
    # every value becomes a reference: whether one is a secret is not ours to guess
    assert dict(github.env) == {"GITHUB_TOKEN": "env:GITHUB_TOKEN", "LOG_LEVEL": "env:LOG_LEVEL"}


def test_the_starter_policy_asks_a_reviewer_for_every_propose_tool(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(starter_policy(claude_servers(CONFIG), LISTED))
    commands = ["tool.git_repo.git_commit", "tool.github.create_issue"]
    policy = load_policy(path, commands)
    assert {r.id for r in policy.rules} == {"git_repo.ask-reviewer", "github.ask-reviewer"}
    principals = tmp_path / "principals.toml"
    principals.write_text(STARTER_PRINCIPALS)
    reviewer = PrincipalsFile(principals).get("user:me")
    assert reviewer is not None
    assert "reviewer" in reviewer.roles


@pytest.mark.parametrize("config", [{}, {"mcpServers": {"x": {"url": "https://h/mcp"}}}])
def test_a_config_that_cannot_be_adopted_says_why(config: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="mcpServers"):
        claude_servers(config)
