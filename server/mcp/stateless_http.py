"""What stateless streamable HTTP answers a GET with.

A GET asks for the standalone stream on which a server sends what no
request asked for. Stateless, signoff has no such stream to offer: the SDK
would hold the GET open with nothing ever to send on it, on one process of
several, so a client would believe it is listening when it is not. The
transport's answer for a server without that stream is 405 (streamable HTTP:
"or else return HTTP 405 Method Not Allowed"), which clients take as "poll".
Notifications still reach a client on the response stream of its own
request, and 2026-07-28 clients listen with `subscriptions/listen`, a POST.
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class NoStandaloneStream:
    """ASGI middleware: a GET of the MCP endpoint is 405 (Allow: POST)."""

    def __init__(self, app: ASGIApp, *, path: str) -> None:
        self._app = app
        self._path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and \
                scope["path"].rstrip("/") == self._path.rstrip("/"):
            refusal = PlainTextResponse(
                "Method Not Allowed: this server is stateless and has no standalone stream; "
                "poll, or use subscriptions/listen", status_code=405, headers={"Allow": "POST"})
            await refusal(scope, receive, send)
            return
        await self._app(scope, receive, send)
