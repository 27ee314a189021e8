"""The upstreams a gateway serves, as connections signoff owns.

`Upstreams` is an async context manager: inside it, each (upstream, tenant)
gets one supervised connection on first use (one for every tenant when the
upstream is `shared`), and leaving it stops them all. Processes get only
the environment the gateway file declares (see `process.py`).

`call_tool` never raises for what an upstream does; it says what is known
of the call, which is what exactly-once needs:

- `answered`: the upstream answered. Its result (redacted, bounded) may be
  an error: `isError`, or a JSON-RPC error turned into an `isError` result.
- `not_sent`: the request never left signoff (the upstream was down or
  unreachable, its stdin closed, its HTTP connection refused): the upstream
  cannot have acted on it, so it is safe to try again.
- `unknown`: the request left and no answer came (timeout, connection lost,
  an answer signoff cannot read): the upstream may or may not have acted.

A request has left once its line is written whole into the process's stdin
(stdio), or once it is handed to the HTTP transport and its connection was
not refused (HTTP). Signoff declares no sampling, elicitation or roots to
upstreams; the SDK refuses such requests, and an upstream that asks through
an `input_required` result gets an `isError` answer.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import anyio
import mcp_types as types
from anyio.abc import TaskGroup
from mcp import MCPError
from pydantic import TypeAdapter, ValidationError

from signoff.server.errors import ConfigError, NotFound, SignoffError
from signoff.server.gateway.bounds import (
    DEFAULT_MAX_BYTES,
    bound_result,
    redact_result,
    redact_text,
)
from signoff.server.gateway.connection import Backoff, Connection, Down, Session, Status
from signoff.server.gateway.environment import resolve
from signoff.server.gateway.model import Upstream
from signoff.server.gateway.process import CallMark, current_call

__all__ = ["Backoff", "CallOutcome", "Status", "UpstreamUnavailable", "Upstreams"]

log = logging.getLogger("signoff.gateway")

T = TypeVar("T")
_RESULT: TypeAdapter[types.CallToolResult | types.InputRequiredResult] = TypeAdapter(
    types.CallToolResult | types.InputRequiredResult)
LIST_PAGES = 100
Key = tuple[str, str | None]


class UpstreamUnavailable(SignoffError):
    """A read of an upstream (its tool list) could not be made."""

    code = "upstream_unavailable"


@dataclass(frozen=True)
class CallOutcome:
    kind: Literal["answered", "not_sent", "unknown"]
    # answered only: what the upstream said, redacted and bounded.
    result: types.CallToolResult | None = None
    # not_sent and unknown: why, in words a reviewer can act on (no secrets).
    message: str = ""
    seconds: float = 0.0

    @property
    def is_error(self) -> bool:
        return self.result is not None and self.result.is_error


def _error_result(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                is_error=True)


async def _unless_over(call: Awaitable[T], over: anyio.Event) -> tuple[bool, T | None]:
    """(True, result) of `call`, or (False, None) when `over` fires first."""
    done: list[T] = []
    failed: list[Exception] = []
    async with anyio.create_task_group() as tg:
        async def watch() -> None:
            await over.wait()
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        try:
            done.append(await call)
        except Exception as exc:  # raised as is, not in a task group's ExceptionGroup
            failed.append(exc)
        tg.cancel_scope.cancel()
    if failed:
        raise failed[0]
    return (True, done[0]) if done else (False, None)


class Upstreams:
    def __init__(self, *, environ: Mapping[str, str] | None = None,
                 backoff: Backoff | None = None, connect_timeout: float = 30.0,
                 max_result_bytes: int = DEFAULT_MAX_BYTES, mode: str = "auto",
                 on_tools_changed: Callable[[str, str | None], None] | None = None) -> None:
        """`environ` resolves env:NAME references (default: os.environ);
        `mode` is the SDK client's protocol negotiation; `on_tools_changed`
        hears (upstream, tenant) when an upstream says its tools changed."""
        self._environ = os.environ if environ is None else environ
        self._backoff = backoff or Backoff()
        self._connect_timeout = connect_timeout
        self._max_result_bytes = max_result_bytes
        self._mode = mode
        self._on_tools_changed = on_tools_changed
        self._connections: dict[Key, Connection] = {}
        self._tg: TaskGroup | None = None
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Self:
        self._tg = await self._stack.enter_async_context(anyio.create_task_group())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc_val: BaseException | None, exc_tb: TracebackType | None) -> None:
        for connection in self._connections.values():
            connection.stop()
        try:
            await self._stack.__aexit__(exc_type, exc_val, exc_tb)
        finally:
            self._tg = None
            self._connections.clear()

    @property
    def connect_timeout(self) -> float:
        """How long a call waits for a start under way."""
        return self._connect_timeout

    def status(self, upstream: Upstream, tenant: str) -> Status | None:
        """The connection's state, or None when none was started."""
        connection = self._connections.get(self._key(upstream, tenant))
        return None if connection is None else connection.status()

    async def start(self, upstream: Upstream, tenant: str) -> None:
        """Start its connection now rather than on first use; a failure to
        start shows in `status`. Raises NotFound (a tenant it does not
        serve) and ConfigError (an env:NAME that is not set)."""
        self._connection(upstream, tenant)

    async def list_tools(self, upstream: Upstream, tenant: str) -> list[types.Tool]:
        """Every tool it lists, all pages. Raises UpstreamUnavailable (and
        NotFound for a tenant it does not serve)."""
        try:
            connection = self._connection(upstream, tenant)
        except ConfigError as exc:
            raise UpstreamUnavailable(exc.message) from None
        timeout = upstream.timeout_seconds
        try:
            session = await connection.session(wait=self._connect_timeout)
            tools: list[types.Tool] = []
            cursor: str | None = None
            with anyio.fail_after(timeout):
                for _ in range(LIST_PAGES):
                    page = await session.client.list_tools(cursor=cursor)
                    tools.extend(page.tools)
                    cursor = page.next_cursor
                    if cursor is None:
                        break
            return tools
        except (Down, MCPError, ValidationError, TimeoutError, anyio.BrokenResourceError,
                anyio.ClosedResourceError) as exc:
            message = str(exc) if isinstance(exc, Down) else (
                f"{connection.label} did not list its tools: {type(exc).__name__}: {exc}")
            raise UpstreamUnavailable(redact_text(message, connection.resolved.secrets)) from None

    async def call_tool(self, upstream: Upstream, tenant: str, tool: str,
                        arguments: Mapping[str, Any], timeout_seconds: float | None = None
                        ) -> CallOutcome:
        """Call `tool` once (never retried here): its answer is awaited
        `timeout_seconds` (default: the upstream's), after waiting at most
        `connect_timeout` for a start under way. Outcomes: module docstring."""
        limit = upstream.timeout_seconds if timeout_seconds is None else timeout_seconds
        began = anyio.current_time()
        try:
            connection = self._connection(upstream, tenant)
        except ConfigError as exc:
            return CallOutcome("not_sent", message=exc.message)
        try:
            # A start under way is waited for (bounded): it is not the call.
            session = await connection.session(wait=self._connect_timeout)
        except Down as down:
            return CallOutcome("not_sent", message=str(down))
        outcome = await self._send(connection, session, tool, dict(arguments), limit)
        seconds = anyio.current_time() - began
        secrets = connection.resolved.secrets
        if outcome.result is not None:
            result = bound_result(redact_result(outcome.result, secrets), self._max_result_bytes)
            return CallOutcome("answered", result=result, seconds=seconds)
        return CallOutcome(outcome.kind, message=redact_text(outcome.message, secrets),
                           seconds=seconds)

    async def _send(self, connection: Connection, session: Session, tool: str,
                    arguments: dict[str, Any], limit: float) -> CallOutcome:
        label = connection.label
        request = types.CallToolRequest(
            params=types.CallToolRequestParams(name=tool, arguments=arguments))
        mark = CallMark()
        token = current_call.set(mark)
        try:
            with anyio.move_on_after(max(0.0, limit)) as scope:
                # Not `call_tool`: it would re-validate the result against the
                # tool's output schema (a wrong answer is still an answer) and
                # answer input requests itself.
                finished, raw = await _unless_over(
                    session.client.session.send_request(request, _RESULT), session.over)
        except MCPError as exc:
            return self._failed(label, mark, exc)
        except ValidationError as exc:
            return CallOutcome("unknown", message=f"{label} answered {tool} with a result "
                               f"signoff cannot read ({exc.error_count()} error(s))")
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return self._lost(label, mark)
        finally:
            current_call.reset(token)
        if scope.cancelled_caught:
            if not mark.maybe_received:
                return CallOutcome("not_sent", message=f"{label} took no request within "
                                   f"{limit:g} s")
            return CallOutcome("unknown", message=f"{label} did not answer {tool} within "
                               f"{limit:g} s; it may or may not have acted")
        if not finished:
            return self._lost(label, mark)
        if isinstance(raw, types.InputRequiredResult):
            asked = sorted({r.method for r in (raw.input_requests or {}).values()})
            return CallOutcome("answered", result=_error_result(
                f"{label} asked for {', '.join(asked) or 'more input'} to finish {tool}; "
                "signoff gives upstreams no sampling, elicitation or roots"))
        assert raw is not None
        return CallOutcome("answered", result=raw)

    def _failed(self, label: str, mark: CallMark, exc: MCPError) -> CallOutcome:
        if not mark.maybe_received:
            return CallOutcome("not_sent", message=f"{label} could not be reached: {exc}")
        if exc.code == types.CONNECTION_CLOSED:
            return self._lost(label, mark)
        return CallOutcome("answered", result=_error_result(
            f"{label} answered with an error ({exc.code}): {exc}"))

    def _lost(self, label: str, mark: CallMark) -> CallOutcome:
        if not mark.maybe_received:
            return CallOutcome("not_sent", message=f"the connection to {label} closed before "
                               "the request was sent")
        return CallOutcome("unknown", message=f"the connection to {label} was lost after the "
                           "request was sent; it may or may not have acted")

    def _key(self, upstream: Upstream, tenant: str) -> Key:
        return (upstream.name, None if upstream.shared else tenant)

    def _connection(self, upstream: Upstream, tenant: str) -> Connection:
        if self._tg is None:
            raise RuntimeError("Upstreams is used outside its `async with`")
        if not upstream.serves(tenant):
            raise NotFound(f"no upstream named {upstream.name!r}")
        key = self._key(upstream, tenant)
        connection = self._connections.get(key)
        if connection is None:
            resolved = resolve(upstream, tenant, self._environ)
            connection = Connection(resolved, backoff=self._backoff,
                                    connect_timeout=self._connect_timeout, mode=self._mode,
                                    on_tools_changed=self._tools_changed(key))
            self._connections[key] = connection
            self._tg.start_soon(connection.run)
        return connection

    def _tools_changed(self, key: Key) -> Callable[[], None] | None:
        hook = self._on_tools_changed
        if hook is None:
            return None
        return lambda: hook(*key)
