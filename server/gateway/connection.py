"""One supervised connection to one upstream (one process, for stdio).

`Connection.run` is the supervisor: it starts the upstream, holds the MCP
session open until the process exits, the HTTP transport fails or signoff
stops, then starts it again after an exponential, capped backoff. Callers
never wait on a dead upstream: `client()` answers at once while it is down
(raising `Down` with why and when it will be tried again), and waits at most
its `wait` while a start is under way.

Each session's end is an event (`Session.over`), so a call in flight can
stop waiting the moment the connection it was sent on is gone.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import anyio
import anyio.abc
import anyio.lowlevel
import mcp_types as types
from mcp import Client, MCPError
from mcp.client import IncomingMessage, Transport

from signoff.server.gateway.bounds import redact_text
from signoff.server.gateway.environment import ResolvedUpstream
from signoff.server.gateway.http import http_transport
from signoff.server.gateway.process import ProcessState, resolve_executable, stdio_transport

log = logging.getLogger("signoff.gateway")

State = Literal["starting", "up", "down", "closed"]
CLIENT_INFO = types.Implementation(name="signoff-gateway", version="1")
# After the process exits, how long its last lines may take to arrive.
EOF_GRACE_SECONDS = 1.0
# The first protocol on which list changes need a `subscriptions/listen`.
MODERN = "2026-07-28"


@dataclass(frozen=True)
class Backoff:
    """Delay before restart n (0-based): initial * factor**n, at most cap.
    A connection that stayed up `stable` seconds starts again from initial."""

    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    stable: float = 30.0

    def delay(self, attempt: int) -> float:
        return min(self.cap, self.initial * self.factor ** min(attempt, 64))


class Down(Exception):
    """The upstream cannot take a request now; the message says why."""


@dataclass
class Session:
    client: Client
    over: anyio.Event = field(default_factory=anyio.Event)


@dataclass(frozen=True)
class Status:
    state: State
    reason: str
    restarts: int
    pid: int | None


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text != type(exc).__name__ else text


class Connection:
    def __init__(self, resolved: ResolvedUpstream, *, backoff: Backoff, connect_timeout: float,
                 mode: str, on_tools_changed: Callable[[], None] | None = None) -> None:
        self.resolved = resolved
        self._backoff = backoff
        self._connect_timeout = connect_timeout
        self._mode = mode
        self._on_tools_changed = on_tools_changed
        self._secrets = tuple(resolved.secrets)
        self.state: State = "starting"
        self.reason = "starting"
        self.restarts = 0
        self.pid: int | None = None
        self._session: Session | None = None
        self._settled = anyio.Event()  # set once the current start is up or down
        self._stop = anyio.Event()
        self._retry_at: float | None = None

    @property
    def label(self) -> str:
        tenant = self.resolved.tenant
        return f"upstream {self.resolved.name!r}" + (f" (tenant {tenant})" if tenant else "")

    def status(self) -> Status:
        return Status(self.state, self.reason, self.restarts, self.pid)

    async def session(self, wait: float) -> Session:
        """The live session; waits up to `wait` for a start under way."""
        with anyio.move_on_after(wait):
            await self._settled.wait()
        if self.state == "up" and self._session is not None:
            return self._session
        if self.state == "starting":
            raise Down(f"{self.label} is starting and did not answer within {wait:g} s")
        if self.state == "closed":
            raise Down(f"{self.label} is closed: signoff is shutting down")
        retry = ""
        if self._retry_at is not None:
            retry = f"; next start in {max(0.0, self._retry_at - anyio.current_time()):.1f} s"
        raise Down(f"{self.label} is down ({self.reason}){retry}")

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Supervise until `stop()`: start, serve, and restart with backoff."""
        attempt = 0
        try:
            while not self._stop.is_set():
                self._set("starting", "starting")
                began = anyio.current_time()
                reason = await self._serve_once()
                if self._stop.is_set():
                    break
                attempt = 0 if anyio.current_time() - began >= self._backoff.stable else attempt
                delay = self._backoff.delay(attempt)
                attempt += 1
                self.restarts += 1
                self.pid = None
                self._retry_at = anyio.current_time() + delay
                self._set("down", reason)
                log.warning("%s is down (%s); restarting in %.1f s", self.label, reason, delay,
                            extra={"upstream": self.resolved.name, "tenant": self.resolved.tenant})
                with anyio.move_on_after(delay):
                    await self._stop.wait()
        finally:
            self._set("closed", "closed")

    def _set(self, state: State, reason: str) -> None:
        self.state, self.reason = state, reason
        if state == "starting":
            if self._settled.is_set():
                self._settled = anyio.Event()
        else:
            self._settled.set()

    async def _serve_once(self) -> str:
        """One session, from start to end; why it ended."""
        process = ProcessState()
        try:
            return await self._hold_session(process)
        except Exception as exc:  # any failure to start or to stay up is a restart
            code = process.returncode
            if code is None and process.final_returncode not in (None, 0):
                # It failed on its own (stopping it would end it by a signal).
                code = process.final_returncode if (process.final_returncode or 0) > 0 else None
            if code is not None:
                return f"exited with code {code}"
            return redact_text(_describe(exc), self._secrets)

    async def _hold_session(self, process: ProcessState) -> str:
        transport = self._transport(process)
        deadline = anyio.current_time() + self._connect_timeout
        # Entering the client opens task groups that must stay open, so the
        # handshake's deadline is this enclosing scope's, lifted once up.
        with anyio.CancelScope(deadline=deadline) as scope:
            async with Client(transport, mode=self._mode, cache=None, client_info=CLIENT_INFO,
                              message_handler=self._on_message) as client, \
                    anyio.create_task_group() as tg:
                if self._on_tools_changed is not None and client.protocol_version >= MODERN:
                    # Subscribed before anyone lists: no change falls in between.
                    await tg.start(self._listen, client)
                scope.deadline = math.inf
                session = Session(client)
                self._session, self.pid, self._retry_at = session, process.pid, None
                self._set("up", "up")
                log.info("%s is up (pid %s, protocol %s)", self.label, process.pid,
                         client.protocol_version,
                         extra={"upstream": self.resolved.name, "tenant": self.resolved.tenant})
                try:
                    await self._until_over(process)
                finally:
                    self._session = None
                    session.over.set()
                    tg.cancel_scope.cancel()
        if scope.cancelled_caught:
            return f"no answer to the handshake within {self._connect_timeout:g} s"
        if process.returncode is not None:
            return f"exited with code {process.returncode}"
        return "stopped" if self._stop.is_set() else "the connection closed"

    async def _until_over(self, process: ProcessState) -> None:
        async with anyio.create_task_group() as tg:
            async def ended() -> None:
                await process.ended.wait()
                with anyio.move_on_after(EOF_GRACE_SECONDS):
                    await process.eof.wait()  # let its last answers through
                with anyio.move_on_after(EOF_GRACE_SECONDS):
                    await process.exited.wait()  # and learn its exit code
                tg.cancel_scope.cancel()

            async def stopped() -> None:
                await self._stop.wait()
                tg.cancel_scope.cancel()

            if self.resolved.transport == "stdio":
                tg.start_soon(ended)
            tg.start_soon(stopped)

    async def _listen(self, client: Client, *,
                      task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
                      ) -> None:
        """2026-07-28 servers announce list changes only to a listener."""
        started = False
        try:
            async with client.listen(tools_list_changed=True) as subscription:
                task_status.started()
                started = True
                async for _event in subscription:
                    if self._on_tools_changed is not None:
                        self._on_tools_changed()
        except (MCPError, RuntimeError) as exc:  # not offered, or the stream was lost
            log.info("%s: no tools/list_changed subscription (%s)", self.label, _describe(exc),
                     extra={"upstream": self.resolved.name, "tenant": self.resolved.tenant})
        finally:
            if not started:
                task_status.started()

    def _transport(self, process: ProcessState) -> Transport:
        resolved = self.resolved
        if resolved.transport == "http":
            assert resolved.url is not None
            return http_transport(resolved.url, resolved.headers, resolved.timeout_seconds)
        argv = resolve_executable(resolved.argv, resolved.env, os.environ.get("PATH"))
        return stdio_transport(argv, resolved.env, on_stderr=self._stderr, state=process)

    def _stderr(self, line: str) -> None:
        log.info("%s stderr: %s", self.label, redact_text(line, self._secrets),
                 extra={"upstream": self.resolved.name, "tenant": self.resolved.tenant})

    async def _on_message(self, message: IncomingMessage) -> None:
        if (isinstance(message, types.ToolListChangedNotification)
                and self._on_tools_changed is not None):
            self._on_tools_changed()
        await anyio.lowlevel.checkpoint()
