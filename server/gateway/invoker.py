"""The invoker: makes each approved upstream call once, as an outbox consumer.

For a `tool_call.approved` (or `tool_call.retry_approved`) message:

1. skip it if the inbox says this consumer handled it already;
2. commit `tool_call.started` — before anything is sent;
3. send the request to the upstream, once, with its timeout;
4. commit the outcome with the inbox row and the proposal's final status, in
   one transaction: `completed` (executed), `failed` (the upstream answered
   with an error), `outcome_unknown` (a timeout or a lost connection after
   the request went out), or `not_sent` (it never left: safe to try again,
   and the relay does, later).

A process that dies between 2 and 4 leaves `started` with nothing after it,
and the relay delivers the message again (it was never marked published).
Finding the call started, the invoker knows an attempt may have happened:
it records `outcome_unknown` and never repeats the call on its own — unless
the tool is declared idempotent, when it simply tries again. A person
settles an unknown outcome (`signoff review resolve`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import anyio

from signoff.server.clock import Clock
from signoff.server.delivery import SinkError
from signoff.server.gateway.calls import (
    APPROVED,
    COMPLETED,
    FAILED,
    NOT_SENT,
    RETRY,
    STARTED,
    TOOL_CALL,
    UNKNOWN,
    ToolCall,
)
from signoff.server.gateway.settle import Settler
from signoff.server.gateway.upstream import UpstreamUnavailable
from signoff.server.observability import bound, span
from signoff.store.faults import crash_point
from signoff.store.ports import Store, UnitOfWork
from signoff.store.records import OutboxMessage, ProposalRecord

log = logging.getLogger("signoff.gateway")
INVOKER = "gateway-invoker"
TOPICS = (APPROVED, RETRY)


@dataclass(frozen=True)
class Answer:
    """What came back from one upstream call, as the invoker records it."""

    kind: Literal["answered", "not_sent", "unknown"]
    result: Mapping[str, Any] | None = None  # bounded, redacted; with isError
    reason: str = ""

    @property
    def is_error(self) -> bool:
        return bool(self.result and self.result.get("isError"))


class CallUpstream(Protocol):
    def __call__(
        self, upstream: str, tenant: str, tool: str, arguments: Mapping[str, Any],
    ) -> Awaitable[Answer]: ...


@dataclass(frozen=True)
class _Attempt:
    call: ToolCall
    proposal: ProposalRecord


class Invoker:
    """An internal consumer: it acts on the message itself, unredacted."""

    internal = True

    def __init__(
        self, *, store: Store, settler: Settler, call_upstream: CallUpstream,
        current_digest: Callable[[str, str, str], Awaitable[str | None]], clock: Clock,
        timeout: float,
    ) -> None:
        self.name = INVOKER
        self.timeout = timeout
        self._store = store
        self._settler = settler
        self._call = call_upstream
        self._current_digest = current_digest
        self._clock = clock
        # One call at a time per upstream and tenant, in the order they come.
        self._locks: dict[tuple[str, str], anyio.Lock] = {}

    def wants(self, message: OutboxMessage) -> bool:
        return message.topic in TOPICS

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, message: OutboxMessage) -> None:
        if not self.wants(message) or message.aggregate_id is None:
            return
        upstream = str(message.payload.get("payload", {}).get("upstream", ""))
        lock = self._locks.setdefault((message.tenant_id, upstream), anyio.Lock())
        with bound(message_id=message.message_id, correlation_id=message.correlation_id), \
                span("gateway.invoke", correlation_id=message.correlation_id,
                     message_id=message.message_id, upstream=upstream):
            async with lock:
                await self._invoke(message)

    async def _invoke(self, message: OutboxMessage) -> None:
        due = await self._store.read(lambda uow: self._due(uow, message))
        drifted = False
        if due is not None:
            # Listed afresh before anything is recorded: an upstream that cannot
            # list now is retried later (nothing sent, nothing written).
            try:
                digest = await self._current_digest(due.upstream, message.tenant_id, due.tool)
            except UpstreamUnavailable as exc:
                raise SinkError(f"{due.upstream} is unavailable; the call was not sent: "
                                f"{exc.message}") from None
            drifted = digest != due.tool_digest
        attempt = await self._store.write(lambda uow: self._begin(uow, message, drifted))
        if attempt is None:
            return
        crash_point("invoker.after_started")
        call = attempt.call
        started = time.monotonic()
        answer = await self._call(call.upstream, message.tenant_id, call.tool, call.arguments)
        answer = Answer(answer.kind, answer.result, answer.reason or (
            f"after {time.monotonic() - started:.1f}s"))
        crash_point("invoker.before_outcome")
        await self._store.write(lambda uow: self._settle(uow, message, attempt, answer))
        if answer.kind == "not_sent":
            raise SinkError(f"{call.upstream} is unavailable; the call was not sent: "
                            f"{answer.reason}")

    def _due(self, uow: UnitOfWork, message: OutboxMessage) -> ToolCall | None:
        """The call, if this message may lead to sending it."""
        if any(c == self.name for c, _, _ in uow.inbox.handled([message.message_id])):
            return None
        call = self._settler.load(uow, message.tenant_id, str(message.aggregate_id)).state
        if call.status == "approved" or (call.status == "started" and call.idempotent):
            return call
        return None

    def _begin(self, uow: UnitOfWork, message: OutboxMessage, drifted: bool) -> _Attempt | None:
        if any(c == self.name for c, _, _ in uow.inbox.handled([message.message_id])):
            return None
        settler = self._settler
        loaded = settler.load(uow, message.tenant_id, str(message.aggregate_id))
        proposal = settler.proposal_of(uow, message)
        if proposal is None:
            raise SinkError(f"no proposal made tool call {message.aggregate_id}")
        call = loaded.state
        if call.status == "started" and not call.idempotent:
            # An earlier attempt died mid-call: it may have happened.
            settler.record(uow, proposal, loaded.version, UNKNOWN, {
                "reason": "signoff stopped during the call; it may or may not have happened"},
                status="outcome_unknown")
            uow.inbox.record(self.name, message.message_id, self._clock())
            return None
        if call.status not in ("approved", "started"):  # settled already
            uow.inbox.record(self.name, message.message_id, self._clock())
            return None
        if drifted:  # checked before anything was sent: it is not called
            settler.record(uow, proposal, loaded.version, FAILED, {
                "result": {"isError": True, "content": [{"type": "text", "text": (
                    f"{call.upstream}.{call.tool} changed (or disappeared) after it was "
                    "approved; it was not called")}]},
                "reason": "the tool drifted after approval; not called"}, status="failed")
            uow.inbox.record(self.name, message.message_id, self._clock())
            return None
        settler.record(uow, proposal, loaded.version, STARTED,
                       {"attempt": call.attempts + 1, "message_id": message.message_id})
        return _Attempt(settler.load(uow, message.tenant_id, str(message.aggregate_id)).state,
                        proposal)

    def _settle(
        self, uow: UnitOfWork, message: OutboxMessage, attempt: _Attempt, answer: Answer
    ) -> None:
        settler = self._settler
        loaded = settler.load(uow, message.tenant_id, str(message.aggregate_id))
        now = loaded.state
        if now.status != "started" or now.attempts != attempt.call.attempts:
            # Settled meanwhile (this relay's lease ran out and another relay or
            # a person decided): the late answer changes nothing recorded.
            log.warning("late outcome of tool call %s (attempt %d) ignored: it is %s now",
                        message.aggregate_id, attempt.call.attempts, now.status)
            return
        proposal = settler.proposal_of(uow, message) or attempt.proposal
        if answer.kind == "not_sent":
            settler.record(uow, proposal, loaded.version, NOT_SENT, {"reason": answer.reason})
            return  # the relay tries again later; no inbox row
        if answer.kind == "unknown":
            settler.record(uow, proposal, loaded.version, UNKNOWN, {"reason": answer.reason},
                           status="outcome_unknown")
        elif answer.is_error:
            settler.record(uow, proposal, loaded.version, FAILED,
                           {"result": dict(answer.result or {}), "reason": answer.reason},
                           status="failed")
        else:
            settler.record(uow, proposal, loaded.version, COMPLETED,
                           {"result": dict(answer.result or {}), "reason": answer.reason},
                           status="executed")
        uow.inbox.record(self.name, message.message_id, self._clock())


__all__ = ["INVOKER", "TOOL_CALL", "Answer", "CallUpstream", "Invoker"]
