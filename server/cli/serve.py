"""`signoff serve`: the MCP server on stdio (default) or streamable HTTP.

On stdio nothing but protocol messages ever reaches stdout: every message of
ours goes to stderr. The caller is named by `--principal/--tenant` (or
SIGNOFF_PRINCIPAL/SIGNOFF_TENANT) and checked against the principals file
before the database is even opened; over HTTP the caller comes from a bearer
token only (principals-file `token_sha256`, a `--tokens` file, or a JWT).

HTTP is stateless by default, so any number of `serve` processes on one
database answer as one behind any load balancer; they then need the same
SIGNOFF_REQUEST_STATE_KEY for a confirmation answered on one process to be
read on another. `--http-sessions stateful` keeps MCP sessions instead (one
process, or a balancer that pins each session to one), for handshake-era
clients that want `resources/subscribe` or mid-call confirmation.
"""

from __future__ import annotations

import logging
import os
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Annotated, Literal

import anyio
import typer

from signoff.policies import LoadError, Principals, PrincipalsFile
from signoff.server.app import App, build_app
from signoff.server.cli.common import err, fail
from signoff.server.cli.gateway_start import start_gateway
from signoff.server.cli.listen import check_port, startup_failure
from signoff.server.cli.settings import (
    DbFlag,
    DomainFlag,
    GatewayFlag,
    PolicyFlag,
    PrincipalsFlag,
    SinksFlag,
    TokensFlag,
    settings_of,
)
from signoff.server.delivery import load_delivery_config, relay_worker
from signoff.server.errors import ConfigError
from signoff.server.mcp import (
    DEFAULT_INTERVAL,
    AuthConfigError,
    BearerIdentity,
    DemoPrincipalsError,
    FixedIdentity,
    HttpAuth,
    IdentityError,
    JwtSettings,
    build_server,
    check_demo_principals,
    demo_warning,
    expiry_sweep,
    http_auth,
    is_demo_database,
    request_state_security,
    resolve_principal,
    serve,
    server_url,
)
from signoff.server.observability import configure_logging, configure_tracing

REQUEST_STATE_KEY = "SIGNOFF_REQUEST_STATE_KEY"


def serve_command(
    transport: Annotated[Literal["stdio", "http"], typer.Option(
        help="stdio (what Claude Desktop launches) or http (streamable HTTP).")] = "stdio",
    host: Annotated[str, typer.Option(help="HTTP: address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="HTTP: port.")] = 8765,
    principal: Annotated[str | None, typer.Option(
        envvar="SIGNOFF_PRINCIPAL", help="stdio: the calling principal.")] = None,
    tenant: Annotated[str | None, typer.Option(
        envvar="SIGNOFF_TENANT", help="stdio: the caller's tenant.")] = None,
    demo: Annotated[bool, typer.Option(
        "--demo", help="Seed the example data if the database is empty.")] = False,
    jwt_issuer: Annotated[str | None, typer.Option(help="HTTP: accept JWTs from this issuer.")]
    = None,
    jwt_audience: Annotated[str | None, typer.Option(
        help="HTTP: expected JWT audience (default: this server's URL).")] = None,
    jwt_secret_file: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, resolve_path=True,
        help="HTTP: HS256 secret file (or set SIGNOFF_JWT_SECRET).")] = None,
    jwt_public_key: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, resolve_path=True, help="HTTP: RS256 public key (PEM).")]
    = None,
    http_sessions: Annotated[Literal["stateless", "stateful"], typer.Option(
        help="HTTP: stateless (any process answers any request) or stateful (MCP sessions, "
             "resources/subscribe and mid-call questions; one process per session).")]
    = "stateless",
    watch_interval: Annotated[float, typer.Option(
        min=0.05, hidden=True, help="Seconds between checks of subscribed proposals.")]
    = DEFAULT_INTERVAL,
    db: DbFlag = None, domain: DomainFlag = None, policy: PolicyFlag = None,
    principals: PrincipalsFlag = None, gateway: GatewayFlag = None, sinks: SinksFlag = None,
    tokens: TokensFlag = None,
) -> None:
    """Run the MCP server: read-only query tools and proposal-only command tools.

    The relay inside it delivers to the sinks file's sinks; with a gateway
    file it also serves the upstream MCP servers that file names."""
    logging.basicConfig(level=logging.WARNING, format="signoff: %(levelname)s %(message)s")
    settings = settings_of(db=db, domain=domain, policy=policy, principals=principals,
                           gateway=gateway, sinks=sinks, tokens=tokens)
    records = _principals(settings.principals)
    if transport == "stdio":
        try:
            caller = resolve_principal(records, principal, tenant)
        except IdentityError as exc:
            fail(exc.message, code=2)
            raise
        auth: HttpAuth | None = None
    else:
        if principal or tenant:
            fail("--principal/--tenant name the caller on stdio only; over HTTP the caller "
                 "comes from the bearer token", code=2)
        auth = _http_auth(records, server_url(host, port), settings.path("tokens"), jwt_issuer,
                          jwt_audience, jwt_secret_file, jwt_public_key)
    stateless = transport == "http" and http_sessions == "stateless"
    state_keys = _request_state_keys(note=stateless)

    if not demo and isinstance(settings.db, Path) and not settings.db.exists():
        fail(f"no database at {settings.db} (run `signoff demo`, or add --demo to seed one)",
             code=2)
    sinks_file = settings.path("sinks")
    try:
        load_delivery_config(sinks_file)  # a bad file stops the start, not the relay later
    except ConfigError as exc:
        fail(exc.message, code=2)
    if auth is not None:
        check_port(host, port)

    async def relay(app: App) -> None:
        await relay_worker(app, sinks_file)

    async def run() -> None:
        configure_logging()  # JSON lines on stderr: stdout belongs to the protocol
        configure_tracing()  # exports spans only when OTEL_EXPORTER_OTLP_ENDPOINT is set
        try:
            app = await build_app(settings.app())
        except (LoadError, ConfigError) as exc:
            fail(str(exc), code=2)
            raise
        async with app, AsyncExitStack() as stack:
            if demo:
                await app.seed_if_empty()
            _demo_credentials(records, auth, demo=demo or await is_demo_database(app.store))
            runtime = await start_gateway(app, stack)
            identity = FixedIdentity(caller) if auth is None else BearerIdentity(app.principals)
            server = build_server(app, identity, auth=auth, watch_interval=watch_interval,
                                  gateway=runtime, stateless=stateless,
                                  request_state_keys=state_keys)
            if auth is not None:
                err.print(f"signoff: serving MCP on {server_url(host, port)} "
                          f"({auth.token_count} bearer token(s) configured)")
            await serve(app, server, transport=transport, host=host, port=port,
                        workers=[expiry_sweep, relay])

    with startup_failure(host, port):
        anyio.run(run)


def _request_state_keys(*, note: bool) -> list[str]:
    """SIGNOFF_REQUEST_STATE_KEY: one key, or several comma-separated (the
    first seals, all open), each at least 32 bytes. Without it, say once
    what a stateless server behind a balancer then cannot do."""
    keys = [k.strip() for k in os.environ.get(REQUEST_STATE_KEY, "").split(",") if k.strip()]
    try:
        request_state_security(keys)
    except ValueError as exc:
        fail(f"{REQUEST_STATE_KEY}: {exc}", code=2)
    if not keys and note:
        err.print(f"signoff: note: {REQUEST_STATE_KEY} is not set, so a confirmation this "
                  "process asks a 2026-07-28 client can be answered on this process only; "
                  "behind a load balancer, give every process the same key")
    return keys


def _demo_credentials(records: Principals, auth: HttpAuth | None, *, demo: bool) -> None:
    """Demo principals only on a demo; their public tokens only with a warning."""
    try:
        check_demo_principals(records, demo=demo)
    except DemoPrincipalsError as exc:
        fail(exc.message, code=2)
    warning = demo_warning(records, auth.principal_file_tokens) if auth is not None else None
    if warning is not None:
        err.print(f"[bold red]signoff: {warning}[/bold red]")


def _principals(path: Path) -> Principals:
    try:
        return PrincipalsFile(path)
    except LoadError as exc:
        fail(str(exc), code=2)
        raise


def _http_auth(records: Principals, url: str, tokens: Path | None, issuer: str | None,
               audience: str | None, secret_file: Path | None,
               public_key: Path | None) -> HttpAuth:
    # A key named on the command line wins over the environment's secret.
    secret = None if secret_file or public_key else os.environ.get("SIGNOFF_JWT_SECRET")
    try:
        jwt_settings = None
        if issuer:
            jwt_settings = JwtSettings.load(issuer=issuer, audience=audience or url,
                                            secret_file=secret_file, secret=secret,
                                            public_key_file=public_key)
        elif secret_file or public_key:
            fail("--jwt-secret-file/--jwt-public-key need --jwt-issuer", code=2)
        auth = http_auth(records, server_url=url, tokens_file=tokens, jwt_settings=jwt_settings)
    except AuthConfigError as exc:
        fail(str(exc), code=2)
        raise
    for note in auth.notes:
        err.print(f"signoff: note: {note}")
    return auth
