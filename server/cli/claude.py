"""`signoff install-claude`: add (or update) signoff in Claude Desktop's config;
with `--gateway`, the entry serves a gateway, and `--replace` removes the
entries now behind it (a backup of the old config is kept)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from signoff.server.app import anchored_domain
from signoff.server.cli.common import err, escape, fail, out
from signoff.server.cli.settings import (
    CliSettings,
    DbFlag,
    DomainFlag,
    GatewayFlag,
    PolicyFlag,
    PrincipalsFlag,
    SinksFlag,
    settings_of,
)
from signoff.server.errors import ConfigError
from signoff.server.gateway import GatewayConfig, load_gateway
from signoff.server.ops import (
    ConfigFileError,
    Plan,
    default_config_path,
    install,
    plan,
    server_entry,
    signoff_executable,
)


def install_claude_command(
    config: Annotated[Path | None, typer.Option(
        dir_okay=False, help="claude_desktop_config.json (default: this OS's location).")]
    = None,
    principal: Annotated[str, typer.Option(help="The principal Claude acts as.")]
    = "agent:triage",
    tenant: Annotated[str, typer.Option(help="The tenant Claude acts in.")] = "acme",
    name: Annotated[str, typer.Option(help="The server's name in mcpServers.")] = "signoff",
    replace: Annotated[bool, typer.Option(
        "--replace", help="With --gateway: remove the entries now behind the gateway "
        "(after a backup of the config).")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the entry; change nothing.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Write the entry even if the database does not exist yet.")] = False,
    db_flag: DbFlag = None, domain: DomainFlag = None, policy: PolicyFlag = None,
    principals: PrincipalsFlag = None, gateway: GatewayFlag = None, sinks: SinksFlag = None,
) -> None:
    """Add signoff to Claude Desktop's mcpServers (other servers and settings are kept).

    The entry runs `serve` with each setting given here, by flag, environment
    or signoff.toml: Claude Desktop starts it elsewhere, without either."""
    settings = settings_of(db=db_flag, domain=domain, policy=policy, principals=principals,
                           gateway=gateway, sinks=sinks)
    gateway_file = settings.path("gateway")
    if replace and gateway_file is None:
        fail("--replace removes the entries behind a gateway: it needs --gateway", code=2)
    loaded = _gateway(gateway_file) if gateway_file is not None else None
    db = settings.db
    entry = server_entry(signoff_executable(), db, principal, tenant, **_given(settings))
    path = config or default_config_path()
    if dry_run:
        _dry_run(path, name, entry, loaded, replace)
        return
    if isinstance(db, Path) and not db.exists():
        # A typo in --db would give Claude a server that fails on every start.
        if not force:
            fail(f"no database at {db.resolve()}; create it with `signoff demo --db {db}`, "
                 "or pass --force to write the entry anyway", code=2)
        err.print(f"note: {db.resolve()} does not exist yet; create it with "
                  f"`signoff demo --db {db}`")
    try:
        planned, backup = install(path, name, entry, gateway=loaded, replace=replace)
    except ConfigFileError as exc:
        fail(f"{path} was left untouched: {exc}. Fix or move it, then run this again.")
        raise
    except OSError as exc:
        fail(f"cannot write {path}: {exc}")
        raise
    served = f", serving the gateway {loaded.path.resolve()}" if loaded is not None else ""
    out.print(escape(f"Added {name!r} to {path}{served}. Restart Claude Desktop to use it."))
    if loaded is not None:
        _gateway_notes(planned, backup, name, loaded)


def _given(settings: CliSettings) -> dict[str, Any]:
    """The settings named by flag, environment or signoff.toml (a default
    is serve's own, and needs no flag)."""
    given: dict[str, Any] = {name: settings.path(name) for name in
                             ("gateway", "policy", "principals", "sinks")
                             if settings.given(name)}
    if settings.given("domain"):
        given["domain"] = anchored_domain(settings.domain, Path.cwd())
    return given


def _gateway(path: Path) -> GatewayConfig:
    try:
        loaded = load_gateway(path)
    except ConfigError as exc:
        fail("\n".join(escape(line) for line in exc.message.splitlines()), code=2)
        raise
    if not loaded.lock_path.exists():
        err.print(escape(f"note: {path} is not pinned yet: run `signoff gateway pin {path}` "
                         "before Claude Desktop starts it (serve refuses an unpinned gateway)"))
    return loaded


def _dry_run(path: Path, name: str, entry: dict[str, Any], gateway: GatewayConfig | None,
             replace: bool) -> None:
    """What would be written: the entry (env values hidden) and what would go."""
    if gateway is None:
        out.print_json(json.dumps({"mcpServers": {name: _hidden_env(entry)}}))
        return
    try:
        existing = path.read_text(encoding="utf-8") if path.exists() else None
        planned = plan(existing, name, entry, gateway=gateway, replace=replace)
    except (ConfigFileError, OSError) as exc:
        fail(f"{path} cannot be read as a Claude Desktop config: {exc}")
        raise
    doc: dict[str, Any] = {"mcpServers": {name: _hidden_env(planned.entry)},
                           "removed" if replace else "behind_gateway": list(planned.behind)}
    out.print_json(json.dumps(doc))


def _hidden_env(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry as shown: its environment's values (a database URL with its
    password, an upstream's tokens) hidden."""
    if "env" not in entry:
        return entry
    return {**entry, "env": {k: "<hidden>" for k in entry["env"]}}


def _gateway_notes(planned: Plan, backup: Path | None, name: str,
                   gateway: GatewayConfig) -> None:
    if planned.removed:
        out.print(escape(f"Removed from mcpServers, now behind the gateway: "
                         f"{', '.join(planned.removed)}."))
    elif backup is not None:
        out.print("No entry of mcpServers is behind the gateway: none removed.")
    if backup is not None:
        out.print(escape(f"The old config is kept in {backup}."))
    if planned.moved_env:
        out.print(escape(f"Moved their {', '.join(planned.moved_env)} into the {name!r} "
                         "entry's env (still only in this file), for the gateway's env:NAME "
                         "references."))
    if planned.behind and not planned.removed:
        out.print(escape(f"Still in mcpServers, and behind the gateway too: "
                         f"{', '.join(planned.behind)}. Claude sees their tools twice, once "
                         "ungated; run this again with --replace to remove them (a backup is "
                         "kept)."))
    if planned.unset_env:
        err.print(escape(f"note: {gateway.path} reads {', '.join(planned.unset_env)} from the "
                         f"environment, and the {name!r} entry's env does not set them: add "
                         "them there unless Claude Desktop's own environment has them, or "
                         "serve will refuse to start."))
