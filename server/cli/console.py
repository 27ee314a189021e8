"""`signoff console`: the reviewer web console, on the database given."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from signoff.server.app import shown
from signoff.server.cli.common import out
from signoff.server.cli.listen import check_port, startup_failure
from signoff.server.cli.review import run_on_app
from signoff.server.cli.settings import (
    DbFlag,
    DomainFlag,
    GatewayFlag,
    PolicyFlag,
    PrincipalsFlag,
    settings_of,
)


def console(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8766,
    secret: Annotated[str | None, typer.Option(
        envvar="SIGNOFF_CONSOLE_SECRET", show_default=False,
        help="Ignored: sessions live in the database, the cookie holds a random id "
             "(accepted so older setups still start).")] = None,
    idle_timeout: Annotated[int, typer.Option(
        min=1, help="Minutes without a page view or a vote after which a console session "
                    "ends (every session also ends 8 hours after sign-in).")] = 30,
    trust_proxy_header: Annotated[str | None, typer.Option(
        help="Take the reviewer's principal id from this header (e.g. X-Forwarded-User), "
             "set by a reverse proxy that authenticates users and strips it from clients. "
             "Off by default.")] = None,
    secure_cookie: Annotated[bool, typer.Option(
        help="Send the session cookie over HTTPS only (set it behind TLS).")] = False,
    db: DbFlag = None, domain: DomainFlag = None, policy: PolicyFlag = None,
    principals: PrincipalsFlag = None, gateway: GatewayFlag = None,
) -> None:
    """The reviewer web console."""
    from signoff.server.console import ConsoleSettings, serve_console

    settings = ConsoleSettings(secret=secret, proxy_header=trust_proxy_header,
                               secure_cookie=secure_cookie,
                               idle_timeout=timedelta(minutes=idle_timeout))
    resolved = settings_of(db=db, domain=domain, policy=policy, principals=principals,
                           gateway=gateway)
    check_port(host, port)
    out.print(f"signoff console on http://{host}:{port}/ (database {shown(resolved.db)})")
    with startup_failure(host, port):
        run_on_app(resolved, lambda app: serve_console(app, settings, host=host, port=port))
