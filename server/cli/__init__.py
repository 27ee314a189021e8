"""The `signoff` command line: one typer app, sub-apps registered per concern."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="signoff: agents propose, people sign off.")


def main() -> None:
    app()
