"""The `signoff` command line: one typer app, sub-apps registered per concern."""

from __future__ import annotations

import typer

from signoff.server.cli.policy import policy_app

app = typer.Typer(
    no_args_is_help=True, add_completion=False, help="signoff: agents propose, people sign off."
)
app.add_typer(policy_app, name="policy")


from signoff.server.cli.events import audit_app, events_app, projections_app  # noqa: E402

app.add_typer(events_app, name="events")
app.add_typer(audit_app, name="audit")
app.add_typer(projections_app, name="projections")

from signoff.server.cli.review import console, review_app  # noqa: E402

app.add_typer(review_app, name="review")
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


def main() -> None:
    app()
