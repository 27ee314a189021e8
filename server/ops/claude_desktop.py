"""Adding signoff to Claude Desktop's `claude_desktop_config.json`.

Claude Desktop launches each entry of `mcpServers` as a stdio subprocess. The
entry written here runs this installation's `signoff` executable (absolute
path: Claude Desktop does not use the shell's PATH) with an absolute database
path and the principal/tenant the agent acts as. Every other server and every
other top-level key of the file is kept; a file that is not valid JSON is
refused and left untouched, since rewriting it would lose the user's settings.

With a gateway, the entry serves it (`serve --gateway`), and the entries it
now stands for can be removed (`replace`): those whose command line is an
upstream's, or whose key is an upstream's name as `gateway init` derives it.
Their env values that the gateway file references move into signoff's entry
(they stay in this file, where they were), since the processes Claude Desktop
starts get no shell exports; the old file is backed up beside it first.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from signoff.server.errors import SignoffError
from signoff.server.gateway import GatewayConfig, env_name, env_reference, upstream_name

CONFIG_NAME = "claude_desktop_config.json"


class ConfigFileError(SignoffError):
    """The existing config file cannot be merged into."""


def default_config_path(platform: str = sys.platform, env: Mapping[str, str] = os.environ,
                        home: Path | None = None) -> Path:
    """Where Claude Desktop keeps its config on this OS."""
    home = home or Path.home()
    if platform == "darwin":
        return home / "Library" / "Application Support" / "Claude" / CONFIG_NAME
    if platform.startswith("win"):
        appdata = env.get("APPDATA")
        base = Path(appdata) if appdata else home / "AppData" / "Roaming"
        return base / "Claude" / CONFIG_NAME
    config_home = env.get("XDG_CONFIG_HOME")
    return (Path(config_home) if config_home else home / ".config") / "Claude" / CONFIG_NAME


def signoff_executable() -> str:
    """The absolute path of the `signoff` command of this installation: the
    one beside this Python first (a venv's, not a shim that could later point
    at another Python), else the one on PATH, else how we were started."""
    script = "signoff.exe" if sys.platform.startswith("win") else "signoff"
    beside = Path(sys.executable).parent / script
    if beside.is_file():
        return str(beside.absolute())
    found = shutil.which("signoff")
    if found:
        return str(Path(found).resolve())
    return str(Path(sys.argv[0]).resolve())


def server_entry(executable: str, db: Path | str, principal: str, tenant: str, *,
                 gateway: Path | None = None, policy: Path | None = None,
                 principals: Path | None = None, domain: str | None = None,
                 sinks: Path | None = None) -> dict[str, Any]:
    """The entry; every setting given is written into it (as absolute paths),
    since Claude Desktop starts serve in a directory of its own choosing. A
    database URL (`db` as a str) goes into the entry's environment, not its
    arguments: a password in it stays out of every process listing."""
    args = ["serve"]
    if gateway is not None:
        args += ["--gateway", str(gateway.resolve())]
    if isinstance(db, Path):
        args += ["--db", str(db.resolve())]
    args += ["--principal", principal, "--tenant", tenant]
    if domain is not None:
        args += ["--domain", domain]
    for option, path in (("--policy", policy), ("--principals", principals),
                         ("--sinks", sinks)):
        if path is not None:
            args += [option, str(path.resolve())]
    entry: dict[str, Any] = {"command": executable, "args": args}
    if isinstance(db, str):
        entry["env"] = {"SIGNOFF_DB": db}
    return entry


@dataclass(frozen=True)
class Plan:
    """What installing does to a config: the new config and what changed."""

    config: dict[str, Any]
    entry: dict[str, Any]
    # Entries the gateway stands for: removed (replace) or left in place.
    behind: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    # Environment variables moved from removed entries into signoff's.
    moved_env: tuple[str, ...] = ()
    # Variables the gateway file references that signoff's entry lacks.
    unset_env: tuple[str, ...] = ()


def _loaded(existing: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The config and its mcpServers. Raises ConfigFileError."""
    if existing is None or not existing.strip():
        return {}, {}
    try:
        config = json.loads(existing)
    except json.JSONDecodeError as exc:
        raise ConfigFileError(f"it is not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise ConfigFileError("its top level is not a JSON object")
    servers = config.get("mcpServers", {})
    if not isinstance(servers, dict):
        raise ConfigFileError("its mcpServers is not a JSON object")
    return config, servers


def merged(existing: str | None, name: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The config with `mcpServers[name]` set to `entry`, all else kept."""
    return plan(existing, name, entry).config


def behind_gateway(servers: Mapping[str, Any], gateway: GatewayConfig,
                   keep: str) -> list[str]:
    """Keys of the entries (other than `keep`) an upstream of `gateway` stands for."""
    names = {u.name for u in gateway.upstreams}
    commands = {u.command for u in gateway.upstreams if u.command}
    found = []
    for key, entry in servers.items():
        if key == keep or not isinstance(entry, dict):
            continue
        command, args = entry.get("command"), entry.get("args", [])
        argv = (command, *map(str, args)) if isinstance(command, str) and isinstance(
            args, list) else None
        if argv in commands or upstream_name(key) in names:
            found.append(key)
    return found


def _references(gateway: GatewayConfig) -> set[str]:
    values = [v for u in gateway.upstreams for v in (*u.env.values(), *u.headers.values())]
    return {name for name in map(env_reference, values) if name is not None}


def _moved(servers: Mapping[str, Any], keys: list[str], wanted: set[str]) -> dict[str, str]:
    """The env values of `keys` whose variable (as `gateway init` names it)
    the gateway references; a name given two different values is left out."""
    found: dict[str, str] = {}
    clashing: set[str] = set()
    for key in keys:
        env = servers[key].get("env")
        for var, value in (env.items() if isinstance(env, dict) else ()):
            target = env_name(str(var))
            if (target in wanted and isinstance(value, str)
                    and found.setdefault(target, value) != value):
                clashing.add(target)
    return {k: v for k, v in found.items() if k not in clashing}


def plan(existing: str | None, name: str, entry: dict[str, Any], *,
         gateway: GatewayConfig | None = None, replace: bool = False) -> Plan:
    """`mcpServers[name]` set to `entry` (keeping the env an earlier install
    gave it), and with `replace` the entries behind `gateway` removed."""
    config, servers = _loaded(existing)
    old = servers.get(name)
    env = dict(old["env"]) if isinstance(old, dict) and isinstance(old.get("env"), dict) else {}
    behind = behind_gateway(servers, gateway, name) if gateway is not None else []
    wanted = _references(gateway) if gateway is not None else set()
    moved = _moved(servers, behind, wanted) if replace else {}
    env.update(moved)
    entry = {**entry, "env": env} if env else entry
    removed = behind if replace else []
    kept = {k: v for k, v in servers.items() if k not in removed}
    return Plan(config={**config, "mcpServers": {**kept, name: entry}}, entry=entry,
                behind=tuple(behind), removed=tuple(removed), moved_env=tuple(sorted(moved)),
                unset_env=tuple(sorted(wanted - set(env))))


def backup_path(path: Path, now: datetime) -> Path:
    """`claude_desktop_config.json.bak-<UTC time>`, never an existing file."""
    stem = f"{path.name}.bak-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    candidate, n = path.with_name(stem), 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{stem}-{n}")
    return candidate


def install(path: Path, name: str, entry: dict[str, Any], *,
            gateway: GatewayConfig | None = None, replace: bool = False,
            now: datetime | None = None) -> tuple[Plan, Path | None]:
    """Write the planned config atomically (a crash leaves the old file
    whole); with `replace`, back the old file up first. Returns the plan and
    the backup's path."""
    existing = path.read_text(encoding="utf-8") if path.exists() else None
    planned = plan(existing, name, entry, gateway=gateway, replace=replace)
    backup = None
    if replace and existing is not None:
        backup = backup_path(path, now or datetime.now(UTC))
        shutil.copy2(path, backup)
    _write(path, planned.config)
    return planned, backup


def _write(path: Path, config: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".claude_desktop_config.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
