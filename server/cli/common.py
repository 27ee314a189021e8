"""What every command shares: opening the app from its settings, output."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import anyio
import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape as escape_markup

from signoff.policies import LoadError
from signoff.server.app import App, build_app
from signoff.server.errors import ConfigError

if TYPE_CHECKING:
    from signoff.server.cli.settings import CliSettings

JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]

# C0/C1 controls, DEL, and the bidi overrides/isolates that reorder a line.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape(text: str) -> str:
    """Text for the terminal: rich markup escaped, and control and bidi
    characters shown as \\uXXXX. An agent writes rationales, payloads and
    ids a reviewer reads here: they must not move the cursor, erase lines or
    reorder what the reviewer approves."""
    return escape_markup(_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def _console(stderr: bool = False) -> Console:
    """A console that wraps lines only for a terminal: output piped to a file
    or a program keeps each line whole, so a printed command stays runnable."""
    console = Console(stderr=stderr, highlight=False)
    console.soft_wrap = not console.is_terminal
    return console


out = _console()
err = _console(stderr=True)


@asynccontextmanager
async def open_app(settings: CliSettings, *, must_exist: bool = True,
                   **extra: Any) -> AsyncIterator[App]:
    """The app the settings describe (`extra`: clock, ids...); exit 2 for a
    missing database or a domain, policy, principals or gateway that won't load."""
    db = settings.db
    if must_exist and isinstance(db, Path) and not await anyio.Path(db).exists():
        fail(f"no database at {db} (run `signoff demo` or `signoff serve --demo` "
             "first)", code=2)
    try:
        app = await build_app(settings.app(**extra))
    except (LoadError, ConfigError) as exc:  # a policy, principals or domain that won't load
        fail(str(exc), code=2)
        raise
    try:
        yield app
    finally:
        await app.close()


def fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def json_lines(records: Iterable[BaseModel | dict[str, Any]]) -> None:
    for record in records:
        doc = record.model_dump(mode="json") if isinstance(record, BaseModel) else record
        sys.stdout.write(json.dumps(doc, sort_keys=True, default=str) + "\n")
