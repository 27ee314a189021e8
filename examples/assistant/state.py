"""The assistant's aggregates: memory items, documents and outside calls,
each folded from its own events."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from signoff.examples.assistant import events as ev
from signoff.server import AggregateType, EventEnvelope

MemoryKind = Literal["note", "preference", "person_fact"]


@dataclass(frozen=True)
class Memory:
    text: str = ""
    subject: str = ""
    kind: MemoryKind = "note"
    saved: bool = False
    forgotten: bool = False


def apply_memory(memory: Memory, event: EventEnvelope) -> Memory:
    p = event.payload
    if event.event_type == ev.MEMORY_SAVED:
        return Memory(text=p["text"], subject=p.get("subject", ""), kind=p["kind"], saved=True)
    if event.event_type == ev.MEMORY_UPDATED:
        return replace(memory, text=p["text"])
    if event.event_type == ev.MEMORY_FORGOTTEN:
        return replace(memory, forgotten=True)
    return memory


def memory_status(memory: Memory) -> str | None:
    if not memory.saved:
        return None
    return "forgotten" if memory.forgotten else "active"


MEMORY: Final = AggregateType[Memory](
    name="memory", initial=Memory, apply=apply_memory, status=memory_status,
    # What the policy sees of the item an update or a forget acts on.
    facts=lambda m: {"kind": m.kind, "subject": m.subject},
)


@dataclass(frozen=True)
class Document:
    title: str = ""
    text: str = ""


def apply_document(doc: Document, event: EventEnvelope) -> Document:
    if event.event_type == ev.DOCUMENT_ADDED:
        return Document(title=event.payload["title"], text=event.payload["text"])
    return doc


DOCUMENT: Final = AggregateType[Document](
    name="document", initial=Document, apply=apply_document,
    status=lambda d: "published" if d.title else None)

CallStatus = Literal["none", "requested", "started", "completed", "failed", "outcome_unknown",
                     "refused"]
SETTLED: Final = frozenset({"completed", "failed", "outcome_unknown", "refused"})


@dataclass(frozen=True)
class ApiCall:
    status: CallStatus = "none"
    method: str = ""
    url: str = ""
    body: dict[str, Any] | None = None
    attempts: int = 0
    outcome: dict[str, Any] = field(default_factory=dict)  # the last fact's payload

    @property
    def exists(self) -> bool:
        return self.status != "none"


_STATUS_AFTER: Final[dict[str, CallStatus]] = {
    ev.CALL_COMPLETED: "completed", ev.CALL_FAILED: "failed", ev.CALL_UNKNOWN: "outcome_unknown",
    ev.CALL_REFUSED: "refused", ev.CALL_NOT_SENT: "requested", ev.CALL_RETRY: "requested",
}


def apply_call(call: ApiCall, event: EventEnvelope) -> ApiCall:
    p = event.payload
    if event.event_type == ev.CALL_REQUESTED:
        return ApiCall(status="requested", method=p["method"], url=p["url"], body=p.get("body"))
    if event.event_type == ev.CALL_STARTED:
        return replace(call, status="started", attempts=int(p["attempt"]))
    if event.event_type in _STATUS_AFTER:
        return replace(call, status=_STATUS_AFTER[event.event_type], outcome=dict(p))
    if event.event_type == ev.CALL_RESOLVED:
        settled: CallStatus = "completed" if p["outcome"] == "succeeded" else "failed"
        return replace(call, status=settled, outcome=dict(p))
    return call


API_CALL: Final = AggregateType[ApiCall](
    name="api_call", initial=ApiCall, apply=apply_call,
    status=lambda c: c.status if c.exists else None,
    facts=lambda c: {"method": c.method, "url": c.url, "attempts": c.attempts})
