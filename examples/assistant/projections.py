"""Read models shaped for a model to read: what memory holds now, the
documents cut into passages, and each outside call's last state.

Projections only ever see committed events, and a memory write is an event
only once its proposal executed: a pending or rejected write has none, so
it cannot be found, whatever is searched. A forgotten item is deleted,
search text and all. Every `apply` is idempotent: it skips a version it has
already seen (replays and rebuilds run events again).
"""

from __future__ import annotations

import re
from typing import Any, Final

from signoff.examples.assistant import events as ev
from signoff.server import EventEnvelope, Projection, ReadModelWriter

MEMORY_VIEW: Final = "memory"
PASSAGES: Final = "passages"
CALLS: Final = "api_calls"


def _seen(doc: dict[str, Any] | None, event: EventEnvelope) -> bool:
    return doc is not None and event.aggregate_version <= int(doc.get("version", 0))


def project_memory(docs: ReadModelWriter, event: EventEnvelope) -> None:
    doc = docs.get(event.aggregate_id)
    if _seen(doc, event):
        return
    if event.event_type == ev.MEMORY_FORGOTTEN:
        docs.delete(event.aggregate_id)
        return
    p = event.payload
    if event.event_type == ev.MEMORY_SAVED:
        doc = {"memory_id": event.aggregate_id, "kind": p["kind"], "subject": p["subject"],
               "saved_at": event.occurred_at.isoformat()}
    elif doc is None:
        return  # an update of an item this read model never had (forgotten)
    doc.update(text=p["text"], version=event.aggregate_version,
               updated_at=event.occurred_at.isoformat())
    docs.put(event.aggregate_id, doc, index=doc["kind"],
             text=f"{doc['subject']} {doc['text']}".strip())


def passages(text: str, limit: int = 600) -> list[str]:
    """A document cut at blank lines, long paragraphs at sentence ends, so a
    snippet is a passage that stands on its own."""
    out: list[str] = []
    for paragraph in (p.strip() for p in re.split(r"\n\s*\n", text)):
        current = ""
        for sentence in re.split(r"(?<=[.!?])\s+", " ".join(paragraph.split())):
            if current and len(current) + 1 + len(sentence) > limit:
                out.append(current)
                current = sentence
            else:
                current = f"{current} {sentence}".strip()
        if current:
            out.append(current)
    return out


def project_document(docs: ReadModelWriter, event: EventEnvelope) -> None:
    if event.event_type != ev.DOCUMENT_ADDED:
        return
    title = str(event.payload["title"])
    for number, passage in enumerate(passages(str(event.payload["text"])), start=1):
        ref = f"{event.aggregate_id}#{number}"
        docs.put(ref, {"ref": ref, "document_id": event.aggregate_id, "title": title,
                       "text": passage, "version": event.aggregate_version},
                 index=event.aggregate_id, text=f"{title} {passage}")


def project_call(docs: ReadModelWriter, event: EventEnvelope) -> None:
    doc = docs.get(event.aggregate_id)
    if _seen(doc, event):
        return
    p = event.payload
    if doc is None:
        doc = {"call_id": event.aggregate_id, "attempts": 0}
    if event.event_type in (ev.CALL_REQUESTED, ev.CALL_RETRY):
        doc.update(method=p["method"], url=p["url"], status="requested")
    elif event.event_type == ev.CALL_STARTED:
        doc.update(status="started", attempts=p["attempt"])
    else:
        status = {ev.CALL_COMPLETED: "completed", ev.CALL_FAILED: "failed",
                  ev.CALL_UNKNOWN: "outcome_unknown", ev.CALL_REFUSED: "refused",
                  ev.CALL_NOT_SENT: "requested"}.get(event.event_type)
        if event.event_type == ev.CALL_RESOLVED:
            status = "completed" if p["outcome"] == "succeeded" else "failed"
        doc.update(status=status or doc.get("status"), reason=p.get("reason", ""))
        if p.get("status_code") is not None:  # the endpoint answered: what it said
            doc["response"] = {k: p[k] for k in ("status_code", "content_type", "body",
                                                 "truncated")}
    doc["version"] = event.aggregate_version
    docs.put(event.aggregate_id, doc, index=str(doc["status"]))


PROJECTIONS: Final = (
    Projection(name=MEMORY_VIEW, handles=ev.MEMORY_EVENTS, apply=project_memory),
    Projection(name=PASSAGES, handles=ev.DOCUMENT_EVENTS, apply=project_document),
    Projection(name=CALLS, handles=ev.CALL_EVENTS, apply=project_call),
)
