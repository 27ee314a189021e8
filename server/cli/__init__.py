"""The `signoff` command line: one typer app, sub-apps registered per concern."""

from __future__ import annotations

import typer

from signoff.server.cli.policy import policy_app

app = typer.Typer(no_args_is_help=True, add_completion=False, help="signoff: agents propose, people sign off.")
app.add_typer(policy_app, name="policy")


from signoff.server.cli.events import audit_app, events_app, projections_app  # noqa: E402

app.add_typer(events_app, name="events")
app.add_typer(audit_app, name="audit")
app.add_typer(projections_app, name="projections")


def main() -> None:
    app()
