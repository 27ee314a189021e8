"""`signoff install-claude`: add (or update) signoff in Claude Desktop's config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from signoff.server.cli.common import DbOption, err, fail, out
from signoff.server.ops import (
    ConfigFileError,
    default_config_path,
    install,
    server_entry,
    signoff_executable,
)


def install_claude_command(
    db: DbOption,
    config: Annotated[Path | None, typer.Option(
        dir_okay=False, help="claude_desktop_config.json (default: this OS's location).")]
    = None,
    principal: Annotated[str, typer.Option(help="The principal Claude acts as.")]
    = "agent:triage",
    tenant: Annotated[str, typer.Option(help="The tenant Claude acts in.")] = "acme",
    name: Annotated[str, typer.Option(help="The server's name in mcpServers.")] = "signoff",
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Print the entry; change nothing.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Write the entry even if the database does not exist yet.")] = False,
) -> None:
    """Add signoff to Claude Desktop's mcpServers (other servers and settings are kept)."""
    entry = server_entry(signoff_executable(), db, principal, tenant)
    if dry_run:
        out.print_json(json.dumps({"mcpServers": {name: entry}}))
        return
    path = config or default_config_path()
    if not db.exists():
        # A typo in --db would give Claude a server that fails on every start.
        if not force:
            fail(f"no database at {db.resolve()}; create it with `signoff demo --db {db}`, "
                 "or pass --force to write the entry anyway", code=2)
        err.print(f"note: {db.resolve()} does not exist yet; create it with "
                  f"`signoff demo --db {db}`")
    try:
        install(path, name, entry)
    except ConfigFileError as exc:
        fail(f"{path} was left untouched: {exc}. Fix or move it, then run this again.")
    except OSError as exc:
        fail(f"cannot write {path}: {exc}")
    out.print(f"Added {name!r} to {path}. Restart Claude Desktop to use it.")
