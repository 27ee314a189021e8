"""An upstream over streamable HTTP, with what `CallMark` needs to know.

The SDK's `streamable_http_client` does the protocol; this module adds the
two facts exactly-once depends on:

- a tools/call counts as sent once it is handed to the transport
  (`marking`); from then on the POST may be on the wire.
- a POST whose connection was refused (`httpx2.ConnectError`: no byte of the
  request left) marks the call `refused`, so it is reported not sent. The
  SDK runs each POST in a task that copies the sender's context, so the
  call's mark is visible there.

Header values (secrets from the environment) are set on the HTTP client and
never logged; the SDK's own logs name the URL and the messages only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Protocol, Self

import anyio
import httpx2
from mcp.client import Transport
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage

from signoff.server.gateway.process import current_call, is_tool_call

# The GET stream a server may hold open waits this long between events.
SSE_READ_SECONDS = 300.0


class _RefusalMarking(httpx2.AsyncBaseTransport):
    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        mark = current_call.get()
        try:
            response = await self._inner.handle_async_request(request)
        except httpx2.ConnectError:
            # Only the POST that carries the call, and only while nothing of
            # the call has reached the upstream: a refused reconnect (GET)
            # after the call was delivered says nothing about the call.
            if mark is not None and request.method == "POST" and not mark.delivered:
                mark.refused = True
            raise
        if mark is not None and request.method == "POST":
            mark.delivered = True  # the upstream has the request: never "not sent" again
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Writes(Protocol):
    async def send(self, item: SessionMessage, /) -> None: ...
    async def aclose(self) -> None: ...


class _MarkingWriter:
    """Wraps the session's write stream: a tools/call handed on is sent."""

    def __init__(self, inner: _Writes) -> None:
        self._inner = inner

    async def send(self, item: SessionMessage, /) -> None:
        mark = current_call.get() if is_tool_call(item) else None
        if mark is not None:
            mark.sent = True
        try:
            await self._inner.send(item)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            if mark is not None:
                mark.sent = False  # the transport was gone: not handed on
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc_val: BaseException | None, exc_tb: TracebackType | None) -> None:
        await self.aclose()


def http_transport(url: str, headers: Mapping[str, str], timeout: float) -> Transport:
    @asynccontextmanager
    async def open_streams() -> AsyncIterator[tuple[Any, _MarkingWriter]]:
        client = httpx2.AsyncClient(
            headers=dict(headers),
            timeout=httpx2.Timeout(timeout, read=max(timeout, SSE_READ_SECONDS)),
            transport=_RefusalMarking(httpx2.AsyncHTTPTransport()))
        async with client, streamable_http_client(url, http_client=client) as (read, write):
            yield read, _MarkingWriter(write)

    return open_streams()
