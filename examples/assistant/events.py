"""Event types of the assistant domain and their versions, in one place:
handlers, states and projections use these names rather than retyping them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

MEMORY_SAVED: Final = "memory.saved"
MEMORY_UPDATED: Final = "memory.updated"
MEMORY_FORGOTTEN: Final = "memory.forgotten"

DOCUMENT_ADDED: Final = "document.added"

# One outside call's facts, in the order they happen (the gateway's protocol):
CALL_REQUESTED: Final = "api_call.requested"       # the call was decided (executed proposal)
CALL_STARTED: Final = "api_call.started"           # committed before the request goes out
CALL_COMPLETED: Final = "api_call.completed"       # the endpoint answered 2xx (bounded body)
CALL_FAILED: Final = "api_call.failed"             # it answered otherwise (an error, a redirect)
CALL_UNKNOWN: Final = "api_call.outcome_unknown"   # it may or may not have happened
CALL_NOT_SENT: Final = "api_call.not_sent"         # unreachable; nothing left: tried again
CALL_REFUSED: Final = "api_call.refused"           # the allow-list or address check said no
CALL_RETRY: Final = "api_call.retry_approved"      # a person asked for one more attempt
CALL_RESOLVED: Final = "api_call.resolved"         # a person said what happened

MEMORY_EVENTS: Final = frozenset({MEMORY_SAVED, MEMORY_UPDATED, MEMORY_FORGOTTEN})
DOCUMENT_EVENTS: Final = frozenset({DOCUMENT_ADDED})
CALL_EVENTS: Final = frozenset({CALL_REQUESTED, CALL_STARTED, CALL_COMPLETED, CALL_FAILED,
                                CALL_UNKNOWN, CALL_NOT_SENT, CALL_REFUSED, CALL_RETRY,
                                CALL_RESOLVED})

EVENT_VERSIONS: Final[Mapping[str, int]] = {
    name: 1 for name in MEMORY_EVENTS | DOCUMENT_EVENTS | CALL_EVENTS}
