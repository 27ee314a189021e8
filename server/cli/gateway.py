"""`signoff gateway`: pin an upstream catalogue and check it for drift
(`init`, which writes a gateway file from a Claude Desktop config, is in
`gateway_init.py`).

Both start the upstreams only to list their tools, and stop them again.
Exit codes: 2 for a gateway file that does not load or an environment
variable it names that is not set (nothing started); 1 for what the
upstreams said (a catalogue that cannot be pinned, drift); 0 otherwise.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn

import anyio
import typer

from signoff.server.cli.common import JsonOption, err, escape, fail, out
from signoff.server.cli.gateway_init import init_command
from signoff.server.cli.gateway_listing import Listing, StartTimeout, list_upstreams, listed_tools
from signoff.server.errors import ConfigError
from signoff.server.gateway import (
    CatalogueError,
    GatewayConfig,
    Lock,
    Upstream,
    drift,
    load_gateway,
    load_lock,
    missing_env,
    pin,
    write_lock,
)

gateway_app = typer.Typer(
    no_args_is_help=True, help="Existing MCP servers behind the gate: init, pin, status.")

gateway_app.command("init")(init_command)

GatewayPath = Annotated[Path, typer.Argument(dir_okay=False, help="The gateway file (TOML).")]
TenantOption = Annotated[str | None, typer.Option(
    help="Start per-tenant upstreams as this tenant (default: the first tenant each "
         "serves, else the placeholder tenant 'pin').")]


def load_config(path: Path) -> GatewayConfig:
    """The gateway file, or exit 2 with every problem (file, line, key)."""
    try:
        return load_gateway(path)
    except ConfigError as exc:
        fail(escape_lines(exc.message), code=2)
        raise


def escape_lines(text: str) -> str:
    """`escape` line by line: a message of several lines stays several lines."""
    return "\n".join(escape(line) for line in text.splitlines())


def require_env(config: GatewayConfig) -> None:
    """Exit 2 naming each env:NAME the file uses that is not set."""
    missing = missing_env(config, os.environ)
    if missing:
        fail("the gateway file needs environment variables that are not set:\n  "
             + "\n  ".join(escape(m) for m in missing), code=2)


def where(config: GatewayConfig, upstream: Upstream) -> str:
    line = f":{upstream.line}" if upstream.line else ""
    return f"{config.path}{line}: upstream {upstream.name!r}"


def of_upstream(name: str, messages: Sequence[str]) -> list[str]:
    """The messages about one upstream: catalogue messages name it as
    `upstream 'NAME':`."""
    return [m for m in messages if f"upstream {name!r}:" in m]


def problems_exit(problems: Sequence[str], as_json: bool) -> NoReturn:
    for problem in problems:
        if as_json:
            typer.echo(json.dumps({"ok": False, "problem": problem}))
        else:
            err.print(f"[red]error:[/red] {escape(problem)}")
    raise typer.Exit(1)


def listings(config: GatewayConfig, tenant: str | None, start_timeout: float) -> list[Listing]:
    async def run() -> list[Listing]:
        return await list_upstreams(config.upstreams, tenant=tenant,
                                    start_timeout=start_timeout)

    return anyio.run(run)


@gateway_app.command("pin")
def pin_command(path: GatewayPath, tenant: TenantOption = None, as_json: JsonOption = False,
                start_timeout: StartTimeout = 30.0) -> None:
    """List each upstream's tools and pin them in PATH.lock (name, description,
    input schema, annotations and their digest). Serve exposes only pinned tools."""
    config = load_config(path)
    require_env(config)
    listed = listings(config, tenant, start_timeout)
    failed = [f"{where(config, e.upstream)}: could not list its tools: "
              f"{'; '.join(e.explained)}"
              for e in listed if e.tools is None]
    if failed:
        problems_exit([*failed, "nothing was pinned"], as_json)
    try:
        lock = pin(config, listed_tools(listed))
    except CatalogueError as exc:
        problems_exit([*exc.problems, "nothing was pinned"], as_json)
    try:
        write_lock(lock, config.lock_path)
    except ConfigError as exc:
        fail(escape_lines(exc.message))
    for entry in listed:
        _print_pinned(lock, entry, as_json)
    if not as_json:
        out.print(f"Pinned {len(lock.tools)} tool(s) of {len(listed)} upstream(s) in "
                  f"{escape(str(config.lock_path))}. `signoff serve --gateway "
                  f"{escape(str(path))}` exposes them.")


def _pinned_json(lock: Lock, entry: Listing) -> dict[str, Any]:
    tools = lock.of(entry.upstream.name)
    return {"upstream": entry.upstream.name, "tenant": entry.tenant,
            "read": sorted(t.name for t in tools if t.exposure == "read"),
            "propose": sorted(t.name for t in tools if t.exposure == "propose"),
            "warnings": of_upstream(entry.upstream.name, lock.warnings)}


def _print_pinned(lock: Lock, entry: Listing, as_json: bool) -> None:
    doc = _pinned_json(lock, entry)
    if as_json:
        typer.echo(json.dumps(doc))
        return
    out.print(f"[bold]{escape(doc['upstream'])}[/bold] (listed as tenant "
              f"{escape(doc['tenant'])})")
    out.print(f"  read:    {escape(', '.join(doc['read']) or '(none)')}")
    out.print(f"  propose: {escape(', '.join(doc['propose']) or '(none)')}")
    for warning in doc["warnings"]:
        out.print(f"  [yellow]warning:[/yellow] {escape(warning)}")


@gateway_app.command("status")
def status_command(path: GatewayPath, tenant: TenantOption = None, as_json: JsonOption = False,
                   start_timeout: StartTimeout = 30.0) -> None:
    """Compare the pinned catalogue with what the upstreams list now: connected
    or not, pinned and matching, changed, new, gone. Exit 1 on any drift."""
    config = load_config(path)
    try:
        lock = load_lock(config)
    except ConfigError as exc:  # never pinned, or a lock that does not check out
        if as_json:
            typer.echo(json.dumps({"clean": False, "error": exc.message}))
        fail(escape_lines(exc.message))
    require_env(config)
    listed = listings(config, tenant, start_timeout)
    found = drift(lock, listed_tools(listed))
    docs = [_status_json(doc, entry, lock)
            for doc, entry in zip(found.to_json()["upstreams"], listed, strict=True)]
    for doc in docs:
        if as_json:
            typer.echo(json.dumps(doc))
        else:
            _print_status(doc)
    clean = all(doc["clean"] for doc in docs)
    if not as_json:
        out.print("Every exposed tool matches its pin." if clean else
                  "Drifted tools are withheld by `serve`. Review the changes, then run "
                  f"`signoff gateway pin {escape(str(path))}` to pin what the upstreams "
                  "list now.")
    raise typer.Exit(0 if clean else 1)


def _status_json(doc: dict[str, Any], entry: Listing, lock: Lock) -> dict[str, Any]:
    # A tool the file moved between read and propose since the pin is served
    # as the file says; the lock is stale until pinned again.
    warnings = of_upstream(entry.upstream.name, lock.warnings)
    return {**doc, "tenant": entry.tenant, "connected": entry.tools is not None,
            "error": "; ".join(entry.explained) if entry.tools is None else None,
            "warnings": warnings, "clean": doc["clean"] and not warnings}


def _print_status(doc: dict[str, Any]) -> None:
    head = f"[bold]{escape(doc['upstream'])}[/bold] (tenant {escape(doc['tenant'])}): "
    if not doc["connected"]:
        out.print(head + f"[red]not connected[/red]: {escape(doc['error'] or '')}")
        _names("pinned, unverified", doc["unverified"])
        return
    out.print(head + ("connected, [green]clean[/green]" if doc["clean"]
                      else "connected, [red]drifted[/red]"))
    _names("pinned and matching", doc["matching"])
    for change in doc["changed"]:
        out.print(f"  [red]changed[/red]: {escape(change['name'])} — its "
                  f"{escape(', '.join(change['fields']))} not as pinned; withheld")
    _names("[yellow]new[/yellow]", doc["new"], " — not pinned; withheld")
    _names("[yellow]gone[/yellow]", doc["gone"], " — pinned; the upstream no longer lists it")
    for warning in doc["warnings"]:
        out.print(f"  [yellow]warning:[/yellow] {escape(warning)}")


def _names(label: str, names: Sequence[str], note: str = "") -> None:
    if names:
        out.print(f"  {label} ({len(names)}): {escape(', '.join(names))}{note}")
