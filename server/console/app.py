"""The reviewer web console: Starlette, server-rendered Jinja2 templates, uvicorn.

Built on the same services as the CLI (`reviewing` for what is shown, the
approval service for votes), so the console can show nothing the rules would
hide and do nothing the rules would refuse. Every page is scoped to the
signed-in reviewer's tenant; votes are POSTs behind a per-session CSRF token;
a GET never changes a proposal (it may note session activity). What it
writes on its own is the expiry sweep, so overdue proposals leave the queue
even if nobody votes, and the pruning of sessions too old to be valid.

Routes live in `console_pages` (queue, proposal, trace, votes), sign-in in
`console_auth`, sessions (in the database) in `sessions`, the live queue
(server-sent events) in `console_events`.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from signoff.server.app import App
from signoff.server.console import auth as console_auth
from signoff.server.console import events as console_events
from signoff.server.console import pages as console_pages
from signoff.server.console.context import HERE, Console, ConsoleSettings, render, templates
from signoff.server.console.cookies import Cookies
from signoff.server.console.sessions import SessionRules, Sessions
from signoff.server.ops import Trace, trace_of

__all__ = ["ConsoleServer", "ConsoleSettings", "build_console", "serve_console"]

log = logging.getLogger("signoff.console")

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
        "object-src 'none'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class SecurityHeaders:
    """Plain ASGI middleware (it must not buffer the event stream) that puts
    the security headers on every response, errors and static files included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_secured)


async def _error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    if status == 405:
        return PlainTextResponse("method not allowed: votes are POSTs from the proposal page",
                                 status_code=405, headers={"Allow": "POST"})
    return render(request, "error.html", {"status": status, "detail": detail, "reviewer": None,
                                          "flashes": [], "csrf_token": ""}, status)


def build_console(app: App, settings: ConsoleSettings | None = None) -> Starlette:
    settings = settings or ConsoleSettings()
    sessions = Sessions(app.store, app.clock, SessionRules(
        idle=settings.idle_timeout, lifetime=settings.session_lifetime))
    console = Console(
        reviews=app.reviews, approvals=app.approvals, resolutions=app.resolutions,
        principals=app.principals, sessions=sessions,
        trace=lambda proposal_id, tenant: _proposal_trace(app, proposal_id, tenant),
        settings=settings, templates=templates(), stopping=anyio.Event(),
        changes=app.store.changes)

    @asynccontextmanager
    async def lifespan(_web: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            if settings.expiry_sweep_seconds > 0:
                tg.start_soon(_sweep_expired, app, sessions, settings.expiry_sweep_seconds)
            yield
            console.stopping.set()
            tg.cancel_scope.cancel()

    routes = [
        *console_auth.routes(), *console_pages.routes(), *console_events.routes(),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    web = Starlette(
        routes=routes, lifespan=lifespan,
        exception_handlers={404: _error, 403: _error, 400: _error, 405: _error, 500: _error},
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(Cookies, secure=settings.secure_cookie,
                       session_max_age=int(settings.session_lifetime.total_seconds())),
        ],
    )
    web.state.console = console
    return web


async def _proposal_trace(app: App, proposal_id: str, tenant: str) -> Trace | None:
    """A proposal's trace in the reviewer's tenant; never a correlation id's."""
    found = await app.store.read(lambda uow: uow.proposals.get(proposal_id, tenant))
    return await trace_of(app, proposal_id, tenant) if found is not None else None


async def _sweep_expired(app: App, sessions: Sessions, every: float) -> None:
    """Move overdue proposals to expired, as the approval service would on a
    vote, and forget sessions too old to be valid."""
    while True:
        try:
            await app.approvals.expire_due()
        except Exception:  # keep sweeping; the next vote expires them anyway
            log.exception("expiry sweep failed")
        try:
            await sessions.prune()
        except Exception:  # an old session is refused whether pruned or not
            log.exception("session pruning failed")
        await anyio.sleep(every)


class _Server(uvicorn.Server):
    """uvicorn, telling the console's live streams to end as shutdown begins:
    they never end on their own, and uvicorn waits for open connections."""

    def __init__(self, config: uvicorn.Config, stopping: anyio.Event) -> None:
        super().__init__(config)
        self._stopping = stopping

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._stopping.set()
        await super().shutdown(sockets)


class ConsoleServer:
    """The console under uvicorn. `serve(sock)` runs until `stop()` (or a
    signal); a caller may bind the socket first (tests take a free port)."""

    def __init__(
        self, app: App, settings: ConsoleSettings, *, host: str = "127.0.0.1", port: int = 8766,
    ) -> None:
        self.web = build_console(app, settings)
        console: Console = self.web.state.console
        self.server = _Server(uvicorn.Config(
            self.web, host=host, port=port, log_level="warning", timeout_graceful_shutdown=3,
            server_header=False), console.stopping)

    @property
    def started(self) -> bool:
        return self.server.started

    def stop(self) -> None:
        self.server.should_exit = True

    async def serve(self, sock: socket.socket | None = None) -> None:
        await self.server.serve(sockets=[sock] if sock else None)


async def serve_console(
    app: App, settings: ConsoleSettings, *, host: str = "127.0.0.1", port: int = 8766,
) -> None:
    """`signoff console`: serve until interrupted."""
    await ConsoleServer(app, settings, host=host, port=port).serve()
