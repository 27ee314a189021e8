"""Who is reviewing: sign-in, the session, the tenant they act in, CSRF.

Two ways in. Small deployments sign in with a reviewer token from the
principals file (only its sha256 is stored there). Behind a reverse proxy
that authenticates people, `--trust-proxy-header` takes the principal id
from that header instead (the proxy must strip it from client requests).
Either way only principals of kind user get in: agents and services can
never review, and the session lives in the database (`sessions`).

Every request checks the session against the principals file: a principal
removed (or no longer a user) ends all its sessions, a token rotated ends
the sessions opened with the old one. Sign-out ends the session for every
console process at once.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from signoff.policies import PrincipalFacts, PrincipalRecord
from signoff.server.console.context import Console, console_of, render
from signoff.server.console.cookies import SESSION_COOKIE, SIGNIN_COOKIE, read_cookie, set_cookie
from signoff.server.console.sessions import csrf_of
from signoff.store.records import ConsoleSession

MAX_TOKEN = 512
_VISIT = "signoff.visit"


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


@dataclass
class Visit:
    """This request's live session (and the id the cookie gave for it)."""

    session_id: str | None = None
    session: ConsoleSession | None = None


async def visit(request: Request) -> Visit:
    """The session the cookie names, looked up once per request."""
    found: Visit | None = request.scope.get(_VISIT)
    if found is None:
        found = Visit()
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            session = await console_of(request).sessions.find(session_id)
            if session is None:
                set_cookie(request, SESSION_COOKIE, None)  # dead: the browser may drop it
            else:
                found = Visit(session_id, session)
        request.scope[_VISIT] = found
    return found


async def _start(request: Request, record: PrincipalRecord, credential: str | None,
                 state: dict[str, Any]) -> None:
    opened = await console_of(request).sessions.open(record.id, credential, state)
    set_cookie(request, SESSION_COOKIE, opened.session_id)
    set_cookie(request, SIGNIN_COOKIE, None)
    request.scope[_VISIT] = Visit(opened.session_id, opened.session)


async def _end(request: Request, reason: str) -> None:
    found = await visit(request)
    if found.session is not None:
        await console_of(request).sessions.revoke(found.session, reason)
    request.scope[_VISIT] = Visit()
    set_cookie(request, SESSION_COOKIE, None)


async def csrf_token(request: Request) -> str:
    """The session's CSRF token; before sign-in, the sign-in nonce."""
    found = await visit(request)
    if found.session_id is not None:
        return csrf_of(found.session_id)
    nonce = read_cookie(request, SIGNIN_COOKIE)
    if not nonce or len(nonce) > MAX_TOKEN:
        nonce = secrets.token_urlsafe(32)
        set_cookie(request, SIGNIN_COOKIE, nonce)
    return nonce


async def check_csrf(request: Request, form: FormData) -> None:
    """Refuse (403) a POST that did not come from one of our own pages."""
    found = await visit(request)
    expected = csrf_of(found.session_id) if found.session_id else request.cookies.get(
        SIGNIN_COOKIE)
    given = form.get("csrf_token")
    if not expected or not isinstance(given, str) or not hmac.compare_digest(
            expected.encode(), given.encode()):
        raise HTTPException(403, "this form is stale or came from another site (CSRF check)")
    # Under `Referrer-Policy: no-referrer` browsers send `Origin: null` even
    # for our own forms, so "null" says nothing; a real other origin refuses.
    origin = request.headers.get("origin")
    if origin not in (None, "null", f"{request.url.scheme}://{request.url.netloc}"):
        raise HTTPException(403, "cross-origin request refused")
    if request.headers.get("sec-fetch-site") not in (None, "same-origin", "none"):
        raise HTTPException(403, "cross-site request refused")


async def _set_state(request: Request, **changes: Any) -> None:
    found = await visit(request)
    if found.session is None:
        return
    state = {**found.session.state, **changes}
    await console_of(request).sessions.set_state(found.session, state)
    found.session = found.session.model_copy(update={"state": state})


async def flash(request: Request, kind: str, text: str) -> None:
    found = await visit(request)
    if found.session is not None:
        await _set_state(request, flash=[*found.session.state.get("flash", []), [kind, text]])


async def page(request: Request, name: str, context: dict[str, Any],
               status: int = 200) -> Response:
    """Render a page with what every page shows: who, where, messages."""
    found = await visit(request)
    flashes = found.session.state.get("flash", []) if found.session else []
    if flashes:
        await _set_state(request, flash=[])
    base = {"csrf_token": await csrf_token(request), "flashes": flashes, "reviewer": None,
            "proxy": console_of(request).settings.proxy_header is not None}
    return render(request, name, {**base, **context}, status)


def _human(record: PrincipalRecord | None) -> PrincipalRecord | None:
    return record if record is not None and record.kind == "user" else None


async def still_valid(console: Console, session: ConsoleSession) -> PrincipalRecord | None:
    """The session's reviewer, or None after revoking what the principals
    file no longer allows: all of a removed principal's sessions, or this
    one if its token was rotated (or it was opened for another mode)."""
    record = _human(console.principals.get(session.principal_id))
    if record is None:
        await console.sessions.revoke_principal(session.principal_id, "principal removed")
        return None
    proxied = console.settings.proxy_header is not None
    if proxied != (session.credential is None):
        await console.sessions.revoke(session, "signed in another way")
        return None
    if session.credential is not None and record.token_sha256 != session.credential:
        await console.sessions.revoke(session, "token rotated")
        return None
    return record


async def identity(request: Request, *, activity: bool = True) -> PrincipalRecord | None:
    """The signed-in human, from the session. `activity` counts the request
    against the idle timeout; background refreshes pass False."""
    console = console_of(request)
    if console.settings.proxy_header is not None:
        await _follow_proxy(request, console.settings.proxy_header)
    found = await visit(request)
    if found.session is None:
        return None
    record = await still_valid(console, found.session)
    if record is None:
        request.scope[_VISIT] = Visit()
        set_cookie(request, SESSION_COOKIE, None)
    elif activity:
        await console.sessions.touch(found.session)
    return record


async def _follow_proxy(request: Request, header: str) -> None:
    """Behind a proxy, the session follows the person it names: someone else
    gets a fresh session (nothing of the last one's carries over), opened
    on a page view only, so a form from the last one is never theirs."""
    claimed = request.headers.get(header) or None
    found = await visit(request)
    if found.session is not None and found.session.principal_id != claimed:
        await _end(request, "another reviewer behind the proxy")
        found = Visit()
    if found.session is None and claimed and request.method == "GET":
        record = _human(console_of(request).principals.get(claimed))
        if record is not None:
            await _start(request, record, None, {})


def _signin_url(request: Request) -> str:
    """Sign in, then come back here (when it is a page worth returning to)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or target == "/queue":
        return "/signin"
    return f"/signin?next={quote(target, safe='')}"


async def reviewer(request: Request, *, fragment: bool = False) -> Reviewer | Response:
    """The reviewer in their chosen tenant, or where to go first."""
    record = await identity(request, activity=not fragment)
    if record is None:
        if fragment:
            return Response("sign in first", status_code=401)
        return RedirectResponse(_signin_url(request), status_code=303)
    found = await visit(request)
    tenant = found.session.state.get("tenant") if found.session else None
    if tenant not in record.tenants:
        if len(record.tenants) != 1:
            return Response("pick a tenant first", status_code=409) if fragment else (
                RedirectResponse("/tenant", status_code=303))
        tenant = record.tenants[0]
        await _set_state(request, tenant=tenant)
    return Reviewer(record, str(tenant))


async def signin_form(request: Request) -> Response:
    if await identity(request) is not None:
        return RedirectResponse("/queue", status_code=303)
    if console_of(request).settings.proxy_header is not None:
        return await page(request, "signin.html", {
            "error": "Your proxy did not identify a reviewer.", "next": None}, status=401)
    return await page(request, "signin.html", {
        "error": None, "next": local_target(request.query_params.get("next"))})


async def signin(request: Request) -> Response:
    console = console_of(request)
    if console.settings.proxy_header is not None:
        raise HTTPException(404, "sign-in is done by the proxy")
    form = await request.form(max_files=0, max_fields=4)
    await check_csrf(request, form)
    token = form.get("token")
    record = None
    if isinstance(token, str) and 0 < len(token) <= MAX_TOKEN:
        record = _human(console.principals.by_token(token.strip()))
    target = local_target(form.get("next"))
    if record is None:
        return await page(request, "signin.html", {
            "error": "Sign-in refused: that is not a reviewer's token.", "next": target},
            status=401)
    await _end(request, "signed in again")  # no session fixation: always a fresh session
    await _start(request, record, record.token_sha256,
                 {"tenant": record.tenants[0]} if len(record.tenants) == 1 else {})
    return RedirectResponse(target, status_code=303)


def local_target(path: object) -> str:
    """A path on this console, never a redirect elsewhere ("//host", "/\\host")."""
    if isinstance(path, str) and path.startswith("/") and not path.startswith(("//", "/\\")):
        return path
    return "/queue"


async def signout(request: Request) -> Response:
    """End this session (with `everywhere`, all of this reviewer's)."""
    form = await request.form(max_files=0, max_fields=4)
    await check_csrf(request, form)
    found = await visit(request)
    if found.session is not None and form.get("everywhere"):
        await console_of(request).sessions.revoke_principal(
            found.session.principal_id, "signed out everywhere")
    await _end(request, "signed out")
    return RedirectResponse("/signin", status_code=303)


async def tenant_form(request: Request) -> Response:
    record = await identity(request)
    if record is None:
        return RedirectResponse("/signin", status_code=303)
    found = await visit(request)
    current = found.session.state.get("tenant") if found.session else None
    return await page(request, "tenant.html", {
        "tenants": record.tenants, "current": current,
        "reviewer": Reviewer(record, str(current or record.tenants[0]))})


async def choose_tenant(request: Request) -> Response:
    record = await identity(request)
    if record is None:
        return RedirectResponse("/signin", status_code=303)
    form = await request.form(max_files=0, max_fields=4)
    await check_csrf(request, form)
    tenant = form.get("tenant")
    if tenant not in record.tenants:
        raise HTTPException(404, "no such tenant")
    await _set_state(request, tenant=tenant)
    return RedirectResponse("/queue", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/signin", signin_form, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/tenant", tenant_form, methods=["GET"]),
        Route("/tenant", choose_tenant, methods=["POST"]),
    ]
