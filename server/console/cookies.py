"""The console's two cookies, set by whatever handler decides and put on the
response as it starts (by a plain ASGI middleware: it must not buffer the
event stream).

`signoff_session` holds only a random session id (see `sessions`).
`signoff_signin` holds a random nonce that the sign-in form echoes: the
CSRF token of a browser that is not signed in, so no database row exists
for someone who merely opened the sign-in page.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_COOKIE = "signoff_session"
SIGNIN_COOKIE = "signoff_signin"
SIGNIN_MAX_AGE = 3600  # long enough to type a token
_PENDING = "signoff.cookies"


def read_cookie(request: Request, name: str) -> str | None:
    """The value a handler set during this request, else the browser's."""
    pending: dict[str, str | None] = request.scope.get(_PENDING, {})
    if name in pending:
        return pending[name]
    return request.cookies.get(name)


def set_cookie(request: Request, name: str, value: str | None) -> None:
    """Send `name=value` with the response (None: tell the browser to drop it)."""
    request.scope[_PENDING][name] = value


class Cookies:
    """Applies the cookies handlers set: HttpOnly, SameSite=Lax (a link to a
    proposal from a chat opens it signed in; cross-site POSTs carry no cookie
    and need the CSRF token anyway), Secure behind TLS."""

    def __init__(self, app: ASGIApp, *, secure: bool, session_max_age: int) -> None:
        self.app = app
        self.secure = secure
        self.max_age = {SESSION_COOKIE: session_max_age, SIGNIN_COOKIE: SIGNIN_MAX_AGE}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        pending: dict[str, str | None] = {}
        scope[_PENDING] = pending

        async def send_cookies(message: Message) -> None:
            if message["type"] == "http.response.start" and pending:
                headers = MutableHeaders(scope=message)
                for name, value in pending.items():
                    headers.append("set-cookie", self._header(name, value))
            await send(message)

        await self.app(scope, receive, send_cookies)

    def _header(self, name: str, value: str | None) -> str:
        shaped = Response()
        shaped.set_cookie(name, value or "", max_age=self.max_age[name] if value else 0,
                          httponly=True, samesite="lax", secure=self.secure)
        return shaped.headers["set-cookie"]
