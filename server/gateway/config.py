"""Reads a gateway file (SPEC "Gateway") into a `GatewayConfig`, or says
exactly why it cannot: every problem at once, each with the file, the line
and the key, as the policy loader does (its `Reporter` and line index).

Loading never touches the environment: `review`, `console` and `policy` read
the file on machines that hold none of the upstreams' secrets. Only the
processes that start upstreams call `missing_env` (and refuse to start) and
`resolve` (in `environment.py`, re-exported here).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from signoff.policies.errors import LoadError, Problem
from signoff.policies.toml_checks import Reporter, describe, read_toml
from signoff.server.errors import ConfigError
from signoff.server.gateway.environment import ResolvedUpstream, missing_env, resolve
from signoff.server.gateway.model import NAME, TENANT, GatewayConfig, Upstream, env_reference
from signoff.server.gateway.tool_lists import KeyPath, tools_from

__all__ = ["GatewayConfigError", "ResolvedUpstream", "load_gateway", "missing_env",
           "parse_gateway", "resolve"]

TOP_KEYS = ("upstream",)
UPSTREAM_KEYS = ("name", "command", "url", "headers", "env", "tenants", "shared", "timeout",
                 "tools")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
# Shorter than this is no timeout for a process call; longer holds a call (and
# the upstream's queue behind it) for longer than any reviewer waits.
TIMEOUT_BOUNDS = (0.1, 3600.0)
_TIMEOUT = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


class GatewayConfigError(ConfigError):
    """A gateway file failed to load; `problems` holds every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems), details=[
            {"file": p.source, "line": p.line, "upstream": p.entry, "key": p.key,
             "expected": p.expected, "got": p.got} for p in self.problems])


class _Unparsed(LoadError):
    """What `read_toml` raises here; turned into a GatewayConfigError."""


def load_gateway(path: Path) -> GatewayConfig:
    """Load and validate the gateway file at `path`. Raises GatewayConfigError."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GatewayConfigError([Problem(str(path), None, None, None, "a readable UTF-8 file",
                                          type(exc).__name__, "upstream")]) from None
    return parse_gateway(text, path)


def parse_gateway(text: str, path: Path) -> GatewayConfig:
    """Validate gateway TOML `text`; `path` is where it lives (and names it)."""
    source = str(path)
    try:
        data = read_toml(text, source, _Unparsed)
    except _Unparsed as exc:
        raise GatewayConfigError(exc.problems) from None
    report = Reporter(source, text, entry_kind="upstream")
    report.keys(data, TOP_KEYS, (), None)
    upstreams = _upstreams(data.get("upstream"), report)
    if report.problems:
        raise GatewayConfigError(sorted(report.problems,
                                        key=lambda p: (p.line is None, p.line or 0)))
    return GatewayConfig(path=path, upstreams=upstreams)


def _upstreams(raw: object, report: Reporter) -> tuple[Upstream, ...]:
    if not isinstance(raw, list) or not raw:
        report.add(("upstream",), None, "upstream",
                   "at least one [[upstream]] table", "nothing" if raw is None else describe(raw))
        return ()
    found: list[Upstream] = []
    first: dict[str, int | None] = {}
    for index, table in enumerate(raw):
        path = ("upstream", str(index))
        if not isinstance(table, dict):
            report.add(path, f"#{index + 1}", None, "a table", describe(table))
            continue
        upstream = _upstream(table, path, f"#{index + 1}", report)
        if upstream is None:
            continue
        if upstream.name in first:
            at = first[upstream.name]
            report.add((*path, "name"), upstream.name, "name", "a unique upstream name"
                       + (f" (already used at line {at})" if at else ""), repr(upstream.name))
            continue
        first[upstream.name] = upstream.line
        found.append(upstream)
    return tuple(found)


def _upstream(table: dict[str, Any], path: KeyPath, entry: str,
              report: Reporter) -> Upstream | None:
    before = len(report.problems)
    name = report.string(table, "name", path, entry, required=True)
    if name is not None and not NAME.match(name):
        report.add((*path, "name"), entry, "name",
                   "lowercase letters, digits and _ (its tools are exposed as <name>_<tool>)",
                   repr(name))
        name = None
    entry = name or entry
    report.keys(table, UPSTREAM_KEYS, path, entry)
    command = _command(table, path, entry, report)
    url = _url(table, path, entry, report)
    if ("command" in table) == ("url" in table):
        report.add(path, entry, "command", "exactly one of command (stdio) and url (HTTP)",
                   "both" if "command" in table else "neither")
    headers = _secret_table(table, "headers", path, entry, report, only_with="url")
    env = _secret_table(table, "env", path, entry, report, only_with="command")
    tenants = report.strings(table, "tenants", path, entry) if "tenants" in table else None
    shared = report.boolean(table, "shared", path, entry) if "shared" in table else False
    timeout = _timeout(table, path, entry, report) if "timeout" in table else 60.0
    tools = tools_from(table.get("tools"), (*path, "tools"), entry, report)
    if shared:
        _no_tenant_in_shared(table, command, url, env, path, entry, report)
    if len(report.problems) > before or name is None or tools is None:
        return None
    return Upstream(name=name, command=command or (), url=url, headers=headers, env=env,
                    tenants=tenants, shared=bool(shared), timeout_seconds=timeout or 60.0,
                    tools=tools, line=report.lines.find(path))


def _command(table: dict[str, Any], path: KeyPath, entry: str,
             report: Reporter) -> tuple[str, ...] | None:
    if "command" not in table:
        return None
    value = table["command"]
    if not isinstance(value, list) or not value or not all(
            isinstance(v, str) and v for v in value):
        report.add((*path, "command"), entry, "command",
                   'an argv array of non-empty strings, like ["mcp-server-git", "--repository", '
                   '"/srv/repo"]', describe(value))
        return None
    return tuple(value)


def _url(table: dict[str, Any], path: KeyPath, entry: str, report: Reporter) -> str | None:
    url = report.string(table, "url", path, entry, required=False)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        report.add((*path, "url"), entry, "url", "an http:// or https:// URL", describe(url))
        return None
    if parts.username is not None or parts.password is not None:
        # Never echoed: the part before @ is a credential.
        report.add((*path, "url"), entry, "url",
                   "a URL without credentials (put secrets in headers as env:NAME)",
                   "a URL with user information")
        return None
    return url


def _secret_table(table: dict[str, Any], key: str, path: KeyPath, entry: str, report: Reporter,
                  *, only_with: str) -> dict[str, str]:
    """`headers` (values env:NAME only) or `env` (literal or env:NAME)."""
    if key not in table:
        return {}
    raw = report.table(table[key], (*path, key), entry, key)
    if raw is None:
        return {}
    if only_with not in table:
        kind = "an HTTP (url)" if only_with == "url" else "a stdio (command)"
        report.add((*path, key), entry, key, f"{key} only on {kind} upstream", "a table")
    names = HEADER_NAME if key == "headers" else ENV_NAME
    values: dict[str, str] = {}
    for name, value in raw.items():
        where, shown = (*path, key, name), f"{key}.{name}"
        if not names.match(name):
            label = "header" if key == "headers" else "environment variable"
            report.add(where, entry, shown, f"a valid {label} name", repr(name))
        reference = env_reference(value) if isinstance(value, str) else None
        if key == "headers" and reference is None:
            # A literal header value is a secret written into a file: refuse it
            # without echoing it.
            report.add(where, entry, shown, "an env:NAME reference (header values are "
                       "secrets, read from the environment only)",
                       "a literal value" if isinstance(value, str) else describe(value))
        elif not isinstance(value, str):
            report.add(where, entry, shown, "a string (literal or env:NAME)", describe(value))
        elif reference is not None and not ENV_NAME.match(reference):
            report.add(where, entry, shown, "env:NAME with NAME an environment variable name",
                       repr(value))
        else:
            values[name] = value
    return values


def _timeout(table: dict[str, Any], path: KeyPath, entry: str, report: Reporter) -> float | None:
    value = table["timeout"]
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _TIMEOUT.match(value.strip())):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    low, high = TIMEOUT_BOUNDS
    if seconds is None or not low <= seconds <= high:
        report.add((*path, "timeout"), entry, "timeout",
                   f'a duration from {low:g}s to {high / 3600:g}h, like "60s", "2m", "500ms" '
                   "or a number of seconds", describe(value))
        return None
    return seconds


def _no_tenant_in_shared(table: dict[str, Any], command: tuple[str, ...] | None,
                         url: str | None, env: Mapping[str, str], path: KeyPath, entry: str,
                         report: Reporter) -> None:
    """One process serves every tenant of a shared upstream, so none is its tenant."""
    expected = "no {tenant} in a shared upstream (one process serves every tenant)"
    if any(TENANT in part for part in command or ()):
        report.add((*path, "command"), entry, "command", expected, "{tenant}")
    if url is not None and TENANT in url:
        report.add((*path, "url"), entry, "url", expected, "{tenant}")
    for name, value in env.items():
        if TENANT in value:
            report.add((*path, "env", name), entry, f"env.{name}", expected, "{tenant}")
