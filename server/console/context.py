"""What every console handler shares: its settings, the services it may
use, the templates. Handlers get the services they need, never the app."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from signoff.policies.principals import Principals
from signoff.server.console.sessions import Sessions
from signoff.server.gateway import Resolutions
from signoff.server.ops import Trace
from signoff.server.services.approvals import ApprovalService
from signoff.server.services.review_views import span
from signoff.server.services.reviewing import ReviewService
from signoff.store.ports import Changes

HERE = Path(__file__).parent


@dataclass(frozen=True)
class ConsoleSettings:
    # Unused since sessions live in the database (the cookie holds a random
    # id, nothing signed); kept so `--secret` from older setups still starts.
    secret: str | None = None
    # Header a trusted reverse proxy sets to the principal id (off when None).
    proxy_header: str | None = None
    secure_cookie: bool = False
    poll_seconds: float = 1.0
    expiry_sweep_seconds: float = 30.0
    # A session ends after this long without a page view or a vote...
    idle_timeout: timedelta = timedelta(minutes=30)
    # ...and this long after sign-in, however active.
    session_lifetime: timedelta = timedelta(hours=8)


@dataclass
class Console:
    """What every handler reaches through `request.app.state.console`."""

    reviews: ReviewService
    approvals: ApprovalService
    # Settling an upstream call whose outcome is unknown.
    resolutions: Resolutions
    principals: Principals
    sessions: Sessions
    # The causal trace of a proposal within a tenant (None: not there).
    trace: Callable[[str, str], Awaitable[Trace | None]]
    settings: ConsoleSettings
    templates: Jinja2Templates
    # Set when the server shuts down: live event streams end on it.
    stopping: anyio.Event
    # A waiter on the store's commits, for a live stream (Store.changes).
    changes: Callable[[], Changes]


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def templates() -> Jinja2Templates:
    """Jinja2 with autoescaping on for every template: proposals carry text
    an agent wrote, which must never become markup."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["span"] = span
    env.filters["when"] = _when
    env.filters["pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, ensure_ascii=False,
                                                 default=str)
    env.filters["compact"] = lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False,
                                                  default=str)
    return Jinja2Templates(env=env)


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    return console_of(request).templates.TemplateResponse(request, name, context,
                                                          status_code=status)
