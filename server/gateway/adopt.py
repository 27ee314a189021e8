"""Adopting a Claude Desktop setup: its `mcpServers` become a gateway file,
with a starter policy and principals beside it.

A starting point the user reviews, never a finished policy: tools the server
annotates read-only are listed under `read`, the rest under `propose`, and
annotations are only claims. No literal secret is copied: every env value of
the config becomes an `env:NAME` reference the user exports before serving.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mcp_types import Tool

from signoff.server.errors import ConfigError

SIGNOFF_ENTRY = "signoff"


@dataclass(frozen=True)
class ClaudeServer:
    """One entry of `mcpServers` that can go behind the gate (stdio)."""

    key: str  # its name in the Claude config
    name: str  # the upstream name: [a-z0-9_]+
    argv: tuple[str, ...]
    env: Mapping[str, str]  # as in the config: literal values, used only to list tools


def upstream_name(key: str) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", key.lower()).strip("_")
    return name or "upstream"


def claude_servers(config: Mapping[str, Any]) -> list[ClaudeServer]:
    """The stdio servers of a Claude Desktop config, signoff's own left out.
    Raises ConfigError for a config without `mcpServers` or with an entry
    that has no command."""
    servers = config.get("mcpServers")
    if not isinstance(servers, dict):
        raise ConfigError("the Claude Desktop config has no mcpServers table")
    found, names = [], set()
    for key, entry in servers.items():
        if key == SIGNOFF_ENTRY or not isinstance(entry, dict):
            continue
        command, args = entry.get("command"), entry.get("args", [])
        if not isinstance(command, str) or not isinstance(args, list):
            raise ConfigError(f"mcpServers.{key}: needs a command (and args as a list); "
                              "only stdio servers can be adopted")
        name = upstream_name(key)
        while name in names:
            name += "_"
        names.add(name)
        env = entry.get("env", {})
        found.append(ClaudeServer(key=key, name=name, argv=(command, *map(str, args)),
                                  env={str(k): str(v) for k, v in dict(env).items()}))
    return found


def env_name(key: str) -> str:
    """The environment variable a secret is read from: the config's own
    name, kept (users already export it), upper-cased."""
    return re.sub(r"[^A-Z0-9_]", "_", key.upper())


def _read_only(tool: Tool) -> bool:
    return bool(tool.annotations is not None and tool.annotations.read_only_hint)


def _toml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def gateway_file(servers: Sequence[ClaudeServer], listed: Mapping[str, Sequence[Tool]]) -> str:
    """The gateway file's text. `listed` holds each server's tools by name."""
    out = [
        "# Written by `signoff gateway init --from-claude-config`: a starting point.",
        "# Review it: tools a server annotates read-only are under `read` (they pass",
        "# through), the rest under `propose` (they wait for the policy and reviewers).",
        "# Annotations are only the server's claims. Pin the catalogue next:",
        "#     signoff gateway pin <this file>",
        "",
    ]
    for server in servers:
        tools = listed.get(server.name, ())
        read = sorted(t.name for t in tools if _read_only(t))
        propose = sorted(t.name for t in tools if not _read_only(t))
        out += ["[[upstream]]", f"name = {json.dumps(server.name)}",
                f"command = {_toml_list(server.argv)}"]
        if server.env:
            refs = ", ".join(f"{json.dumps(k)} = {json.dumps('env:' + env_name(k))}"
                             for k in sorted(server.env))
            out.append(f"env = {{ {refs} }}  # export these before `signoff serve`")
        out += ["", "[upstream.tools]", f"read = {_toml_list(read)}",
                f"propose = {_toml_list(propose)}", ""]
    return "\n".join(out)


def starter_policy(servers: Sequence[ClaudeServer], listed: Mapping[str, Sequence[Tool]]) -> str:
    """Reads allowed; every propose tool asks one reviewer; the rest denied."""
    out = [
        "# Starter policy for the gateway (written by `signoff gateway init`).",
        "# Reads pass through for everyone of the tenant; every call of a propose",
        "# tool waits for one reviewer. Tighten or loosen it per tool, e.g.",
        '# commands = ["tool.repo.git_add"] with effect = "allow".',
        "",
        "[queries]",
        'default = { kinds = ["agent", "user"] }',
        "",
    ]
    for server in servers:
        if any(not _read_only(t) for t in listed.get(server.name, ())):
            out += ["[[rule]]", f'id = "{server.name}.ask-reviewer"',
                    f'commands = ["tool.{server.name}.*"]', 'effect = "ask"',
                    f'reason = "a call to {server.name} that may change something: a '
                    'reviewer decides"',
                    'approvers = { roles = ["reviewer"], count = 1 }', ""]
    return "\n".join(out)


STARTER_PRINCIPALS = """\
# Starter principals for the gateway (written by `signoff gateway init`).
# The agent Claude Desktop runs as, and one reviewer. Give the reviewer a token
# for the console: put the sha256 of a long random token in token_sha256
# (python -c "import hashlib,secrets; t=secrets.token_urlsafe(32); print(t);
#  print(hashlib.sha256(t.encode()).hexdigest())").

[[principal]]
id = "agent:claude"
kind = "agent"
display_name = "Claude Desktop"
tenants = ["local"]
roles = []

[[principal]]
id = "user:me"
kind = "user"
display_name = "Me (reviewer)"
tenants = ["local"]
roles = ["reviewer"]
"""
