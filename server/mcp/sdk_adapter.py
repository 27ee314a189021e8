"""The one place signoff relies on the MCP SDK beyond its public surface.

Everything else in `signoff.server.mcp` uses public mcp 2.x APIs: the
low-level `Server` and its handlers, middleware, `Context`, the resolver and
the transports. One thing has no public accessor yet: a low-level handler is
given the request's `ServerSession`, a proxy built for each request, but not
the client `Connection` behind it (the SDK's own context type that would
carry it, `mcp.server.context.Context.connection`, is "not currently
constructed by ServerRunner"). Handshake-era `resources/subscribe` needs that
connection twice: as the key one client's subscriptions share across its
requests, and for its `exit_stack`, so the subscriptions are forgotten when
the client disconnects.

`ServerSession` keeps the connection in `_connection`. If an SDK upgrade
moves it, `connection_of` raises `SdkMismatch` instead of guessing, and
tests/mcp/test_sdk_adapter.py fails saying so. Replace this module with the
public accessor once the SDK has one.
"""

from __future__ import annotations

from mcp.server.connection import Connection
from mcp.server.session import ServerSession

from signoff.server.errors import SignoffError


class SdkMismatch(SignoffError):
    """The installed MCP SDK no longer has what this module relies on."""

    code = "sdk_mismatch"


def connection_of(session: ServerSession) -> Connection:
    """The client connection behind a request's session: the same object for
    every request of that connection, closed (exit_stack unwound) with it."""
    connection = getattr(session, "_connection", None)
    if not isinstance(connection, Connection):
        raise SdkMismatch(
            "the installed mcp SDK's ServerSession no longer keeps its Connection in "
            "`_connection` (found "
            f"{type(connection).__name__}); update signoff/server/mcp/sdk_adapter.py")
    return connection
