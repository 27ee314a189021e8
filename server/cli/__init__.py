"""The `signoff` command line: one typer app, sub-apps registered per concern."""

from __future__ import annotations

import os
import sys
from importlib.metadata import version
from typing import Annotated, NoReturn

import typer

from signoff.server.cli.db import db_app
from signoff.server.cli.policy import policy_app

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="signoff: agents propose, people sign off."
)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"signoff {version('signoff')}")
        raise typer.Exit()


@app.callback()
def _root(
    _version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """signoff: agents propose, people sign off."""


app.add_typer(policy_app, name="policy")
app.add_typer(db_app, name="db")


from signoff.server.cli.events import audit_app, events_app, projections_app  # noqa: E402

app.add_typer(events_app, name="events")
app.add_typer(audit_app, name="audit")
app.add_typer(projections_app, name="projections")

from signoff.server.cli.console import console  # noqa: E402
from signoff.server.cli.review import review_app  # noqa: E402

app.add_typer(review_app, name="review")
from signoff.server.cli.review_resolve import HELP as RESOLVE_HELP  # noqa: E402
from signoff.server.cli.review_resolve import resolve  # noqa: E402

review_app.command("resolve", help=RESOLVE_HELP)(resolve)
app.command("console")(console)

from signoff.server.cli.serve import serve_command  # noqa: E402

app.command("serve")(serve_command)

from signoff.server.cli.demo import demo_command  # noqa: E402

app.command("demo")(demo_command)

from signoff.server.cli.claude import install_claude_command  # noqa: E402

app.command("install-claude")(install_claude_command)

from signoff.server.cli.delivery import outbox_app, relay  # noqa: E402

app.add_typer(outbox_app, name="outbox")
app.command("relay")(relay)

from signoff.server.cli.trace import trace  # noqa: E402

app.command("trace")(trace)

from signoff.server.cli.gateway import gateway_app  # noqa: E402

app.add_typer(gateway_app, name="gateway")

from signoff.server.cli.config import config_command  # noqa: E402

app.command("config")(config_command)

from signoff.server.cli.export import export_app  # noqa: E402

app.add_typer(export_app, name="export")


def main() -> None:
    """The CLI; a reader that goes away (`signoff ... | head`) ends it quietly."""
    try:
        app()
    except SystemExit:
        _flush_stdout()  # what is still buffered may meet the closed pipe
        raise
    except BaseExceptionGroup as group:
        # Raised from inside a task group (the demo's MCP session) the
        # broken pipe arrives wrapped, past click's own handling of it.
        pipe, rest = group.split(_broken_pipe)
        if pipe is None or rest is not None:
            raise
        _quiet_exit()


def _broken_pipe(exc: BaseException) -> bool:
    # rich turns the BrokenPipeError of a print into SystemExit(1).
    return isinstance(exc, BrokenPipeError) or (
        isinstance(exc, SystemExit) and isinstance(exc.__context__, BrokenPipeError))


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _quiet_exit()


def _quiet_exit() -> NoReturn:
    # Point stdout at /dev/null so the interpreter's last flush has nowhere
    # to fail; exit 1 as click does for a broken pipe it catches itself.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(1)
