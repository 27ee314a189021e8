"""When an HTTP call counts as sent: a refused POST before anything was
delivered is `not sent`; a refused reconnect after the POST was answered
never turns a delivered call into one that may be made again."""

from __future__ import annotations

import contextlib

import httpx2
import pytest

from signoff.server.gateway.http import _RefusalMarking
from signoff.server.gateway.process import CallMark, current_call

pytestmark = pytest.mark.anyio


class Script(httpx2.AsyncBaseTransport):
    """Answers or refuses requests in the order given."""

    def __init__(self, *outcomes: bool) -> None:
        self._outcomes = list(outcomes)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._outcomes.pop(0):
            return httpx2.Response(202)
        raise httpx2.ConnectError("refused", request=request)


async def send(transport: _RefusalMarking, method: str) -> None:
    with contextlib.suppress(httpx2.ConnectError):
        await transport.handle_async_request(httpx2.Request(method, "http://127.0.0.1:1/mcp"))


async def test_a_refused_post_before_delivery_is_not_sent() -> None:
    mark = CallMark(sent=True)
    token = current_call.set(mark)
    try:
        await send(_RefusalMarking(Script(False)), "POST")
    finally:
        current_call.reset(token)
    assert mark.maybe_received is False


async def test_a_refused_reconnect_after_delivery_keeps_the_call_delivered() -> None:
    mark = CallMark(sent=True)
    token = current_call.set(mark)
    try:
        transport = _RefusalMarking(Script(True, False, False))
        await send(transport, "POST")  # the call reaches the upstream
        await send(transport, "GET")   # the stream drops; the reconnect is refused
        await send(transport, "POST")  # even a later refused POST of the call
    finally:
        current_call.reset(token)
    assert mark.maybe_received is True
