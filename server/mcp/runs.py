"""The ids a tool call carries, and which run it belongs to when the client
does not say.

`call_context` reads the ids a client may send in the request's `_meta`
(`signoff/run_id` or plain `run_id`, and likewise thread and correlation).

A run groups an agent's calls: the trace shows a proposal with the calls of
its run, and the per-run rate limit counts a run's proposals. Only signoff's
own demo sends a run id (`_meta` `signoff/run_id`); MCP Inspector, Claude
Desktop and most clients send none. So a call without one is placed in a run
by the best evidence there is, in this order:

1. `traceparent` in the request's `_meta` (W3C trace context, where the
   2026-07-28 protocol carries it): the trace id names the run, so the calls
   of one traced agent session share it whichever connection they use. (The
   SDK already makes that trace context the parent of the request's span,
   and so of signoff's spans inside it.)
2. The client's connection: one run per stdio connection (or in-process
   stream), one per HTTP session (`Mcp-Session-Id`, only with
   `--http-sessions stateful`). A connection lives in one process, so its
   run is kept in that process's memory.
3. Stateless HTTP has neither, and its successive requests may reach
   different processes: a principal's calls in a tenant within one
   `RUN_WINDOW` of the clock (UTC, aligned to the epoch: 09:00-09:30,
   09:30-10:00, ...) form one run. The run id is computed from those three
   facts alone (`window_run`), so every process - and a restarted one -
   names the same run without sharing any memory; a session that goes on
   past the end of a window continues in the next window's run.

What a client sends wins, so the same id reaches the runtime log and, as
`CallContext.run_id`, the proposal service.
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from mcp.server.connection import Connection
from mcp.server.mcpserver import Context

from signoff.policies import PrincipalFacts
from signoff.server.clock import Clock, IdFactory
from signoff.server.mcp.sdk_adapter import SdkMismatch, connection_of
from signoff.server.services.proposals import CallContext
from signoff.server.services.receipts import FieldProblem

RunSource = Literal["client", "traceparent", "connection", "session", "time_window"]

RUN_WINDOW = timedelta(minutes=30)
MAX_REMEMBERED = 10_000  # HTTP sessions remembered; the oldest are forgotten
# version "00"-"fe" - trace id - parent id - flags (W3C Trace Context, level 1).
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
TRACE_PREFIX = "trace:"
WINDOW_PREFIX = "window:"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
META_KEYS: dict[str, tuple[str, ...]] = {
    "run_id": ("signoff/run_id", "run_id"),
    "thread_id": ("signoff/thread_id", "thread_id"),
    "correlation_id": ("signoff/correlation_id", "correlation_id"),
}
META_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def call_context(meta: Mapping[str, Any] | None) -> tuple[CallContext, list[FieldProblem]]:
    """Run ids from the request's `_meta` (`signoff/run_id`, or plain `run_id`)."""
    found: dict[str, str] = {}
    problems: list[FieldProblem] = []
    for name, keys in META_KEYS.items():
        key = next((k for k in keys if meta and k in meta), None)
        if key is None or meta is None:
            continue
        value = meta[key]
        if isinstance(value, str) and META_ID.match(value):
            found[name] = value
        else:
            problems.append(FieldProblem(
                field=f"_meta.{key}", problem="1 to 128 letters, digits or . _ : -"))
    return CallContext(**found), problems


def meta_of(context: Context[Any, Any]) -> Mapping[str, Any] | None:
    try:
        meta = context.request_context.meta
    except ValueError:  # called outside a request (no wire `_meta`)
        return None
    return meta


def connection_of_request(context: Context[Any, Any]) -> Connection | None:
    """The client connection of the request, which the run may be derived from."""
    try:
        return connection_of(context.request_context.session)
    except (ValueError, SdkMismatch):  # outside a request, or an SDK that moved it
        return None


def trace_id_of(traceparent: object) -> str | None:
    """The trace id of a valid `traceparent`, else None (an invalid one is
    ignored, as the W3C spec says a receiver must)."""
    if not isinstance(traceparent, str):
        return None
    found = _TRACEPARENT.match(traceparent.strip())
    if found is None:
        return None
    version, trace_id, parent_id, _ = found.groups()
    if version == "ff" or trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    if version == "00" and len(traceparent.strip()) != 55:
        return None
    return trace_id


def window_run(tenant: str, principal: str, at: datetime,
               width: timedelta = RUN_WINDOW) -> str:
    """The run of `principal`'s calls in `tenant` in the window holding `at`:
    `window:<start, UTC>:<digest>`. The digest of tenant, principal and start
    keeps two principals' runs apart (a trace gathers a run's calls by id)."""
    start = _EPOCH + width * ((at - _EPOCH) // width)
    named = "\n".join((tenant, principal, start.isoformat())).encode()
    return f"{WINDOW_PREFIX}{start:%Y%m%dT%H%MZ}:{hashlib.sha256(named).hexdigest()[:16]}"


@dataclass(frozen=True)
class RunOf:
    """The call's ids with its run filled in, and where the run came from."""

    call: CallContext
    source: RunSource


class _Recent(OrderedDict[Any, Any]):
    """A mapping that forgets its least recently used keys past a bound."""

    def remember(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > MAX_REMEMBERED:
            self.popitem(last=False)


class Runs:
    """Run ids for the calls of one server process: a connection's run in
    its memory, a stateless call's computed (`window_run`)."""

    def __init__(self, clock: Clock, ids: IdFactory, *, window: timedelta = RUN_WINDOW) -> None:
        self._clock = clock
        self._ids = ids
        self._window = window
        # A connection's run lives as long as its outbound channel object.
        self._channels: weakref.WeakKeyDictionary[object, dict[str, str]] = (
            weakref.WeakKeyDictionary())
        self._sessions = _Recent()
        # Each window's run id, worked out once (a digest) per principal and window.
        self._windows = _Recent()

    def of(self, call: CallContext, meta: Mapping[str, Any] | None,
           connection: Connection | None, principal: PrincipalFacts) -> RunOf:
        if call.run_id is not None:
            return RunOf(call, "client")
        trace_id = trace_id_of((meta or {}).get("traceparent"))
        if trace_id is not None:
            return RunOf(replace(call, run_id=TRACE_PREFIX + trace_id), "traceparent")
        who = f"{principal.tenant}/{principal.id}"
        if connection is not None and connection.session_id:
            return RunOf(replace(call, run_id=self._session(connection.session_id, who)),
                         "session")
        if connection is not None and connection.has_standalone_channel:
            return RunOf(replace(call, run_id=self._channel(connection.outbound, who)),
                         "connection")
        return RunOf(replace(call, run_id=self._window_run(principal)), "time_window")

    def _window_run(self, principal: PrincipalFacts) -> str:
        at = self._clock()
        key = (principal.tenant, principal.id, (at - _EPOCH) // self._window)
        run = self._windows.get(key)
        if run is None:
            run = window_run(principal.tenant, principal.id, at, self._window)
            self._windows.remember(key, run)
        return str(run)

    def _session(self, session_id: str, who: str) -> str:
        key = (session_id, who)
        run = self._sessions.get(key) or self._ids("run")
        self._sessions.remember(key, run)
        return str(run)

    def _channel(self, channel: object, who: str) -> str:
        runs = self._channels.setdefault(channel, {})
        return runs.setdefault(who, self._ids("run"))
