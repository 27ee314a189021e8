"""One upstream tool call as an aggregate: its facts, in the order they happen.

    tool_call.approved        the executor committed the approved proposal
    tool_call.started         the invoker is about to send the request (attempt n)
    tool_call.completed       the upstream answered (bounded, redacted result)
    tool_call.failed          the upstream answered with an error (isError)
    tool_call.outcome_unknown the request may or may not have taken effect
    tool_call.not_sent        the upstream was unreachable; nothing was sent
    tool_call.retry_approved  a person asked for one more attempt
    tool_call.resolved        a person settled an unknown outcome

`started` is committed before the request goes out, so a process that dies
mid-call leaves a `started` with nothing after it: whoever picks the call up
again knows an attempt may have happened and never repeats it on its own
(unless the tool is declared idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from signoff.server.domain import AggregateType
from signoff.store.records import EventEnvelope

APPROVED: Final = "tool_call.approved"
STARTED: Final = "tool_call.started"
COMPLETED: Final = "tool_call.completed"
FAILED: Final = "tool_call.failed"
UNKNOWN: Final = "tool_call.outcome_unknown"
NOT_SENT: Final = "tool_call.not_sent"
RETRY: Final = "tool_call.retry_approved"
RESOLVED: Final = "tool_call.resolved"
EVENT_VERSIONS: Final = {name: 1 for name in (
    APPROVED, STARTED, COMPLETED, FAILED, UNKNOWN, NOT_SENT, RETRY, RESOLVED)}

CallStatus = Literal["none", "approved", "started", "completed", "failed", "unknown"]


@dataclass(frozen=True)
class ToolCall:
    status: CallStatus = "none"
    upstream: str = ""
    tool: str = ""
    tool_digest: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    idempotent: bool = False
    attempts: int = 0

    @property
    def exists(self) -> bool:
        return self.status != "none"

    @property
    def due(self) -> bool:
        """Approved (or approved again) and not attempted since."""
        return self.status == "approved"


_SETTLED: dict[str, CallStatus] = {
    COMPLETED: "completed", FAILED: "failed", UNKNOWN: "unknown",
}


def apply(call: ToolCall, event: EventEnvelope) -> ToolCall:
    p = event.payload
    if event.event_type == APPROVED:
        return ToolCall(status="approved", upstream=str(p["upstream"]), tool=str(p["tool"]),
                        tool_digest=str(p["tool_digest"]), arguments=dict(p["arguments"]),
                        idempotent=bool(p.get("idempotent", False)))
    if event.event_type == STARTED:
        return replace(call, status="started", attempts=call.attempts + 1)
    if event.event_type in _SETTLED:
        return replace(call, status=_SETTLED[event.event_type])
    if event.event_type in (RETRY, NOT_SENT):
        return replace(call, status="approved")
    if event.event_type == RESOLVED:
        outcome = p.get("outcome")
        return replace(call, status="completed" if outcome == "succeeded" else "failed")
    return call


TOOL_CALL: Final = AggregateType[ToolCall](
    name="tool_call", initial=ToolCall, apply=apply, status=lambda c: c.status,
    facts=lambda c: {"upstream": c.upstream, "tool": c.tool, "attempts": c.attempts},
)
