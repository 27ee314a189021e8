"""`signoff gateway init --from-claude-config PATH`: adopt the servers a
Claude Desktop user already runs.

Each stdio server of the config is started, with the literal environment
the config gives it, only to list its tools; those values are used for that
and written nowhere (the gateway file names them as `env:NAME`). A server
that does not start is still written, with empty lists and a comment saying
why. Beside the gateway file go a starter policy and principals file; an
existing file is never overwritten without --force.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import anyio
import mcp_types
import typer

from signoff.server.cli.common import err, escape, fail, out
from signoff.server.cli.gateway_listing import (
    Listing,
    StartTimeout,
    list_upstreams,
    listed_tools,
)
from signoff.server.errors import ConfigError
from signoff.server.gateway import (
    STARTER_PRINCIPALS,
    ClaudeServer,
    Upstream,
    claude_servers,
    env_name,
    gateway_file,
    parse_gateway,
    starter_policy,
)

# The agent and the tenant of STARTER_PRINCIPALS, for the commands printed.
STARTER_AGENT = "agent:claude"
STARTER_TENANT = "local"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def init_command(
    from_claude_config: Annotated[Path, typer.Option(
        "--from-claude-config", dir_okay=False,
        help="claude_desktop_config.json whose mcpServers to adopt.")],
    out_path: Annotated[Path, typer.Option(
        "--out", dir_okay=False,
        help="The gateway file to write; policy.toml and principals.toml go beside it.")]
    = Path("gateway.toml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    start_timeout: StartTimeout = 30.0,
) -> None:
    """Write a gateway file (read-only-annotated tools under read, the rest under
    propose), a starter policy and principals from a Claude Desktop config."""
    servers, skipped = _servers(from_claude_config)
    targets = [out_path, out_path.with_name("policy.toml"),
               out_path.with_name("principals.toml")]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not force:
        fail(f"{escape(', '.join(existing))} already exist(s); nothing was written. Pass "
             "--force to overwrite.", code=2)
    for key in skipped:
        err.print(f"note: mcpServers.{escape(key)} is not a stdio server (no command); it "
                  "stays in Claude Desktop as it is")
    listings = anyio.run(_list, servers, start_timeout)
    listed = listed_tools(listings)
    text = _with_failures(gateway_file(servers, listed), listings)
    _check(text, out_path, {e.upstream.name for e in listings if not e.tools})
    try:
        for path, content in zip(targets, (text, starter_policy(servers, listed),
                                           STARTER_PRINCIPALS), strict=True):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {escape(str(exc.filename))}: {escape(exc.strerror or '')}")
    _summary(servers, listings, targets)


def _servers(path: Path) -> tuple[list[ClaudeServer], list[str]]:
    """The stdio servers of the config, and the keys of entries left out
    (remote servers: nothing to start)."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        fail(f"cannot read {escape(str(path))}: {escape(str(exc))}", code=2)
    if not isinstance(config, dict):
        fail(f"{escape(str(path))}: its top level is not a JSON object", code=2)
    entries = config.get("mcpServers")
    skipped = [k for k, v in entries.items() if isinstance(v, dict) and "command" not in v
               and ("url" in v or "type" in v)] if isinstance(entries, dict) else []
    kept = {**config, "mcpServers": {k: v for k, v in entries.items() if k not in skipped}} \
        if isinstance(entries, dict) else config
    try:
        servers = claude_servers(kept)
    except ConfigError as exc:
        fail(f"{escape(str(path))}: {escape(exc.message)}", code=2)
        raise
    if not servers:
        fail(f"{escape(str(path))}: no server in mcpServers to put behind the gateway",
             code=2)
    return servers, skipped


def _check(text: str, path: Path, empty: set[str]) -> None:
    """Exit 2, writing nothing, unless `text` loads; an upstream with no tool
    listed may not load yet (it has none in read or propose): the user fills
    its lists in, as its comment says."""
    try:
        parse_gateway(text, path)
    except ConfigError as exc:
        others = [d for d in exc.details if not (
            d.get("upstream") in empty and d.get("key") == "tools.read"
            and str(d.get("expected", "")).startswith("at least one tool"))]
        if others:
            fail("the config cannot become a gateway file as it is; nothing was written:\n"
                 + "\n".join(escape(line) for line in exc.message.splitlines()), code=2)


def listing_upstream(server: ClaudeServer) -> tuple[Upstream, dict[str, str]]:
    """The server as an upstream whose env values come from references, and
    the environment that resolves them: the values count as secrets, so the
    gateway redacts them from whatever it reports of the listing."""
    env: dict[str, str] = {}
    environ: dict[str, str] = {}
    for key, value in server.env.items():
        if not value:
            env[key] = value
            continue
        reference = f"{server.name}.{key}"  # one namespace per server: no clash
        env[key], environ[reference] = f"env:{reference}", value
    return Upstream(name=server.name, command=server.argv, env=env), environ


async def _list(servers: Sequence[ClaudeServer], start_timeout: float) -> list[Listing]:
    upstreams, environ = [], {}
    for server in servers:
        upstream, values = listing_upstream(server)
        upstreams.append(upstream)
        environ.update(values)
    return await list_upstreams(upstreams, tenant=None, environ=environ,
                                start_timeout=start_timeout)


def _with_failures(text: str, listings: Sequence[Listing]) -> str:
    """A comment above each upstream that could not be listed (or has no tools)."""
    failed = {entry.upstream.name: entry for entry in listings if not entry.tools}
    lines = text.split("\n")
    result: list[str] = []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        name = _named(following) if line == "[[upstream]]" else None
        if name in failed:
            result += _failure_comment(failed[name])
        result.append(line)
    return "\n".join(result)


def _named(line: str) -> str | None:
    if not line.startswith("name = "):
        return None
    value = json.loads(line.removeprefix("name = "))
    return value if isinstance(value, str) else None


def _failure_comment(entry: Listing) -> list[str]:
    if entry.tools is not None:
        return ["# It lists no tools: nothing of it can be exposed; delete this table."]
    reason = _CONTROL.sub(" ", entry.error)  # signoff's words: no stderr line is copied
    comment = [f"# Could not be listed when this file was written: {reason}.",
               "# Its tools are unknown, so none is exposed: fill in read and propose,",
               "# then pin."]
    if "PATH" not in entry.upstream.env:
        comment.append('# A server started through npx, uvx or node needs PATH: add '
                       'PATH = "env:PATH" to its env.')
    return comment


def _summary(servers: Sequence[ClaudeServer], listings: Sequence[Listing],
             targets: Sequence[Path]) -> None:
    gateway, policy, principals = (str(p) for p in targets)
    out.print(f"Wrote {escape(gateway)} ({len(servers)} upstream(s)), {escape(policy)} and "
              f"{escape(principals)}.")
    for entry in listings:
        tools = entry.tools
        what = ("could not be listed: written with empty lists; fill them in (or delete "
                "its table) before pinning") if tools is None else (
            f"{sum(_read_only(t) for t in tools)} read, "
            f"{sum(not _read_only(t) for t in tools)} propose")
        out.print(f"  {escape(entry.upstream.name)}: {escape(what)}")
    for warning in _shared_names(servers):
        out.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    serve_files = ["--policy", policy, "--principals", principals,
                   "--principal", STARTER_AGENT, "--tenant", STARTER_TENANT]
    steps = [f"Review {gateway}: read tools pass through, propose tools wait for a "
             "reviewer; annotations are only the servers' claims."]
    names = sorted({env_name(k) for s in servers for k in s.env})
    if names:
        steps.append("Export what it reads from the environment (the values are in your "
                     "Claude config; none was copied): " + ", ".join(names))
    steps += [_command("gateway", "pin", gateway),
              "Try it: " + _command("serve", "--gateway", gateway, *serve_files),
              _command("install-claude", "--gateway", gateway, *serve_files, "--replace")
              + "  (swaps the adopted entries for signoff's; keeps a backup)"]
    out.print("Next:")
    for number, step in enumerate(steps, 1):
        out.print(f"  {number}. {escape(step)}")


def _read_only(tool: mcp_types.Tool) -> bool:
    """As the gateway file splits them (`gateway_file`)."""
    return bool(tool.annotations is not None and tool.annotations.read_only_hint)


def _command(*args: str) -> str:
    return "signoff " + " ".join(shlex.quote(a) for a in args)


def _shared_names(servers: Sequence[ClaudeServer]) -> list[str]:
    """Two servers whose variables map to one name but hold different values
    in the config would both read the one variable behind the gateway."""
    seen: dict[str, tuple[str, str]] = {}
    warnings = []
    for server in servers:
        for key, value in server.env.items():
            name = env_name(key)
            other = seen.setdefault(name, (server.name, value))
            if other[0] != server.name and other[1] != value:
                warnings.append(f"upstreams {other[0]!r} and {server.name!r} both read "
                                f"{name}, with different values in the Claude config: give "
                                "one of them its own variable in the gateway file")
    return warnings
