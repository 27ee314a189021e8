"""Who is reviewing: sign-in, the session, the tenant they act in, CSRF.

Two ways in. Small deployments sign in with a reviewer token from the
principals file (only its sha256 is stored there); the session is then a
signed cookie (itsdangerous, via Starlette's SessionMiddleware) holding the
principal id, the chosen tenant and a CSRF token. Behind a reverse proxy that
authenticates people, `--trust-proxy-header` takes the principal id from that
header instead (the proxy must strip it from client requests). Either way
only principals of kind user get in: agents and services can never review.
The principal is re-checked against the principals file on every request.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from signoff.policies import PrincipalFacts, PrincipalRecord
from signoff.server.console.context import console_of, render

MAX_TOKEN = 512


@dataclass(frozen=True)
class Reviewer:
    record: PrincipalRecord
    tenant: str

    @property
    def facts(self) -> PrincipalFacts:
        return self.record.facts(self.tenant)

    @property
    def name(self) -> str:
        return self.record.display_name or self.record.id


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def check_csrf(request: Request, form: FormData) -> None:
    """Refuse (403) a POST that did not come from one of our own pages."""
    expected, given = request.session.get("csrf"), form.get("csrf_token")
    if not isinstance(expected, str) or not isinstance(given, str) or not hmac.compare_digest(
            expected.encode(), given.encode()):
        raise HTTPException(403, "this form is stale or came from another site (CSRF check)")
    # Under `Referrer-Policy: no-referrer` browsers send `Origin: null` even
    # for our own forms, so "null" says nothing; a real other origin refuses.
    origin = request.headers.get("origin")
    if origin not in (None, "null", f"{request.url.scheme}://{request.url.netloc}"):
        raise HTTPException(403, "cross-origin request refused")
    if request.headers.get("sec-fetch-site") not in (None, "same-origin", "none"):
        raise HTTPException(403, "cross-site request refused")


def flash(request: Request, kind: str, text: str) -> None:
    request.session["flash"] = [*request.session.get("flash", []), [kind, text]]


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """Render a page with what every page shows: who, where, messages."""
    base = {"csrf_token": csrf_token(request), "flashes": request.session.pop("flash", []),
            "reviewer": None, "proxy": console_of(request).settings.proxy_header is not None}
    return render(request, name, {**base, **context}, status)


def _human(record: PrincipalRecord | None) -> PrincipalRecord | None:
    return record if record is not None and record.kind == "user" else None


def identity(request: Request) -> PrincipalRecord | None:
    """The signed-in human, from the proxy header or the session."""
    console = console_of(request)
    header = console.settings.proxy_header
    if header is None:
        pid = request.session.get("principal")
        return _human(console.principals.get(pid)) if isinstance(pid, str) else None
    pid = request.headers.get(header)
    if not pid:
        return None
    if request.session.get("principal") != pid:  # a new person behind the proxy
        request.session.clear()
        request.session["principal"] = pid
    return _human(console.principals.get(pid))


def reviewer(request: Request, *, fragment: bool = False) -> Reviewer | Response:
    """The reviewer in their chosen tenant, or where to go first."""
    record = identity(request)
    if record is None:
        if fragment:
            return Response("sign in first", status_code=401)
        if request.method == "GET":  # come back here after signing in
            request.session["next"] = request.url.path + (
                f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/signin", status_code=303)
    tenant = request.session.get("tenant")
    if tenant not in record.tenants:
        if len(record.tenants) != 1:
            return Response("pick a tenant first", status_code=409) if fragment else (
                RedirectResponse("/tenant", status_code=303))
        tenant = record.tenants[0]
        request.session["tenant"] = tenant
    return Reviewer(record, str(tenant))


async def signin_form(request: Request) -> Response:
    if identity(request) is not None:
        return RedirectResponse("/queue", status_code=303)
    if console_of(request).settings.proxy_header is not None:
        return page(request, "signin.html", {"error": "Your proxy did not identify a reviewer."},
                    status=401)
    return page(request, "signin.html", {"error": None})


async def signin(request: Request) -> Response:
    console = console_of(request)
    if console.settings.proxy_header is not None:
        raise HTTPException(404, "sign-in is done by the proxy")
    form = await request.form(max_files=0, max_fields=4)
    check_csrf(request, form)
    token = form.get("token")
    record = None
    if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN:
        record = _human(console.principals.by_token(token.strip()))
    if record is None:
        return page(request, "signin.html", {
            "error": "Sign-in refused: that is not a reviewer's token."}, status=401)
    target = local_target(request.session.get("next"))
    request.session.clear()  # no session fixation: a fresh session and CSRF token
    request.session["principal"] = record.id
    csrf_token(request)
    if len(record.tenants) == 1:
        request.session["tenant"] = record.tenants[0]
    return RedirectResponse(target, status_code=303)


def local_target(path: object) -> str:
    """A path on this console, never a redirect elsewhere ("//host", "/\\host")."""
    if isinstance(path, str) and path.startswith("/") and not path.startswith(("//", "/\\")):
        return path
    return "/queue"


async def signout(request: Request) -> Response:
    check_csrf(request, await request.form(max_files=0, max_fields=4))
    request.session.clear()
    return RedirectResponse("/signin", status_code=303)


async def tenant_form(request: Request) -> Response:
    record = identity(request)
    if record is None:
        return RedirectResponse("/signin", status_code=303)
    return page(request, "tenant.html", {
        "tenants": record.tenants, "current": request.session.get("tenant"),
        "reviewer": Reviewer(record, str(request.session.get("tenant") or record.tenants[0]))})


async def choose_tenant(request: Request) -> Response:
    record = identity(request)
    if record is None:
        return RedirectResponse("/signin", status_code=303)
    form = await request.form(max_files=0, max_fields=4)
    check_csrf(request, form)
    tenant = form.get("tenant")
    if tenant not in record.tenants:
        raise HTTPException(404, "no such tenant")
    request.session["tenant"] = tenant
    return RedirectResponse("/queue", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/signin", signin_form, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/tenant", tenant_form, methods=["GET"]),
        Route("/tenant", choose_tenant, methods=["POST"]),
    ]
