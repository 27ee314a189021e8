"""`signoff serve`: the MCP server on stdio (default) or streamable HTTP.

On stdio nothing but protocol messages ever reaches stdout: every message of
ours goes to stderr. The caller is named by `--principal/--tenant` (or
SIGNOFF_PRINCIPAL/SIGNOFF_TENANT) and checked against the principals file
before the database is even opened; over HTTP the caller comes from a bearer
token only (principals-file `token_sha256`, a `--tokens` file, or a JWT).
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
from signoff.server.app import App, Settings, build_app, example_file
from signoff.server.cli.common import DbOption, err, fail
from signoff.server.cli.listen import check_port, startup_failure
from signoff.server.delivery import SINKS_ENV, load_delivery_config, relay_worker
from signoff.server.errors import ConfigError
from signoff.server.gateway import INVOKER, GatewayRuntime, missing_env, running
from signoff.server.mcp import (
    DEFAULT_INTERVAL,
    AuthConfigError,
    BearerIdentity,
    FixedIdentity,
    HttpAuth,
    IdentityError,
    JwtSettings,
    build_server,
    expiry_sweep,
    http_auth,
    resolve_principal,
    serve,
    server_url,
)
from signoff.server.observability import configure_logging, configure_tracing


def serve_command(
    db: DbOption,
    transport: Annotated[Literal["stdio", "http"], typer.Option(
        help="stdio (what Claude Desktop launches) or http (streamable HTTP).")] = "stdio",
    host: Annotated[str, typer.Option(help="HTTP: address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="HTTP: port.")] = 8765,
    domain: Annotated[str, typer.Option(help="casework, or package.module:factory.")] = "casework",
    policy: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, resolve_path=True,
        help="Policy file (default: the casework example's).")] = None,
    principals: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, resolve_path=True,
        help="Principals file (default: the casework example's).")] = None,
    principal: Annotated[str | None, typer.Option(
        envvar="SIGNOFF_PRINCIPAL", help="stdio: the calling principal.")] = None,
    tenant: Annotated[str | None, typer.Option(
        envvar="SIGNOFF_TENANT", help="stdio: the caller's tenant.")] = None,
    demo: Annotated[bool, typer.Option(
        "--demo", help="Seed the example data if the database is empty.")] = False,
    tokens: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False, resolve_path=True,
        help="HTTP: tokens TOML file (token tables: sha256, principal, tenant).")] = None,
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
    sinks: Annotated[Path | None, typer.Option(
        envvar=SINKS_ENV, exists=True, dir_okay=False, resolve_path=True,
        help="Sinks TOML file for the outbox relay that runs inside the server "
             "(default: the notification consumer only).")] = None,
    gateway: Annotated[Path | None, typer.Option(
        envvar="SIGNOFF_GATEWAY", exists=True, dir_okay=False, resolve_path=True,
        help="Gateway file: also serve the upstream MCP servers it names (pinned with "
             "`signoff gateway pin`).")] = None,
    watch_interval: Annotated[float, typer.Option(
        min=0.05, hidden=True, help="Seconds between checks of subscribed proposals.")]
    = DEFAULT_INTERVAL,
) -> None:
    """Run the MCP server: read-only query tools and proposal-only command tools."""
    logging.basicConfig(level=logging.WARNING, format="signoff: %(levelname)s %(message)s")
    records = _principals(principals)
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
        auth = _http_auth(records, server_url(host, port), tokens, jwt_issuer, jwt_audience,
                          jwt_secret_file, jwt_public_key)

    if not demo and not db.exists():
        fail(f"no database at {db} (run `signoff demo`, or add --demo to seed one)", code=2)
    try:
        load_delivery_config(sinks)  # a bad file stops the start, not the relay later
    except ConfigError as exc:
        fail(exc.message, code=2)
    if auth is not None:
        check_port(host, port)

    async def relay(app: App) -> None:
        await relay_worker(app, sinks)

    async def run() -> None:
        configure_logging()  # JSON lines on stderr: stdout belongs to the protocol
        configure_tracing()  # exports spans only when OTEL_EXPORTER_OTLP_ENDPOINT is set
        try:
            app = await build_app(Settings(db=db, domain=domain, policy=policy,
                                           principals=principals, gateway=gateway))
        except (LoadError, ConfigError) as exc:
            fail(str(exc), code=2)
            raise
        async with app, AsyncExitStack() as stack:
            if demo:
                await app.seed_if_empty()
            runtime = await _gateway(app, stack)
            identity = FixedIdentity(caller) if auth is None else BearerIdentity(app.principals)
            server = build_server(app, identity, auth=auth, watch_interval=watch_interval,
                                  gateway=runtime)
            if auth is not None:
                err.print(f"signoff: serving MCP on {server_url(host, port)} "
                          f"({auth.token_count} bearer token(s) configured)")
            await serve(app, server, transport=transport, host=host, port=port,
                        workers=[expiry_sweep, relay])

    with startup_failure(host, port):
        anyio.run(run)


async def _gateway(app: App, stack: AsyncExitStack) -> GatewayRuntime | None:
    """The gateway's upstreams for as long as the server runs, and its
    invoker in the relay that runs inside the server."""
    if app.gateway is None:
        return None
    missing = missing_env(app.gateway.config, os.environ)
    if missing:
        fail("the gateway needs these environment variables: " + "; ".join(missing), code=2)
    runtime = await stack.enter_async_context(running(app.gateway))
    app.consumers.add(INVOKER, runtime.invoker(store=app.store, settler=app.settler,
                                               clock=app.clock))
    return runtime


def _principals(path: Path | None) -> Principals:
    source = path or example_file("principals.toml")
    try:
        return PrincipalsFile(source)
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
