"""What the runtime log keeps of a tool call's arguments and result.

Datasets and replay need what an agent sent and what it was told (`signoff
export`); the log must hold neither a secret an agent typed nor an answer of
any size. So each is kept

- redacted: the values of secret-looking keys and of the fields the domain
  marks sensitive become "[redacted]" (`observability.redact`, as the relay
  and the logs do), and so does any text shaped like a provider key, a
  bearer token, a JWT or a private key (the gateway's `redact_text`);
- bounded: at most `MAX_BYTES` of UTF-8 JSON. A larger one is kept as
  `{"signoff/truncated": {"bytes": <its size>, "preview": <the start of its
  JSON>}}`, the marker the gateway puts on an upstream's cut answer.

Both run on every call, so the cheap tests go first: the JSON text is
searched for a key to hide and for anything a secret shape starts with, and
only a hit walks the value. And both run after the call has answered: the
runner buffers a `ToolCall`, which the runtime log makes into its entry
when it flushes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from mcp_types import CallToolResult, InputRequiredResult, TextContent

from signoff.server.gateway import may_hold_secret, redact_texts
from signoff.server.mcp.runtime_log import arguments_digest
from signoff.server.observability import nothing_to_redact, redact
from signoff.store.records import RuntimeEntry

MAX_BYTES = 4096
TRUNCATED = "signoff/truncated"
# Room the marker object itself takes, so a bounded value stays within MAX_BYTES.
_MARKER_ROOM = 64


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call as the runner saw it: its arguments and its answer as
    they were, not yet redacted. `entry()` makes what the runtime log keeps."""

    entry_id: str
    tenant_id: str
    principal_id: str
    tool: str
    kind: Literal["query", "command"]
    outcome: str
    latency_ms: float
    run_id: str | None
    run_source: str | None
    correlation_id: str | None
    proposal_id: str | None
    at: datetime
    arguments: Mapping[str, Any]
    answer: CallToolResult | InputRequiredResult
    sensitive: frozenset[str]

    def entry(self) -> RuntimeEntry:
        return RuntimeEntry(
            entry_id=self.entry_id, tenant_id=self.tenant_id, principal_id=self.principal_id,
            tool=self.tool, kind=self.kind, arguments_digest=arguments_digest(self.arguments),
            outcome=self.outcome, latency_ms=self.latency_ms, run_id=self.run_id,
            run_source=self.run_source, correlation_id=self.correlation_id,
            proposal_id=self.proposal_id, at=self.at,
            arguments=kept(self.arguments, self.sensitive),
            result=kept(answer_of(self.answer), self.sensitive))


def kept(value: Any, sensitive: frozenset[str]) -> Any:
    """`value` as the runtime log keeps it: redacted, then bounded."""
    text = _dump(value)
    if not nothing_to_redact(text, sensitive):
        clean = redact(value, sensitive)
        if clean is not value:
            value, text = clean, _dump(clean)
    if may_hold_secret(text):
        value = redact_texts(value)
        text = _dump(value)
    if len(text) * 4 <= MAX_BYTES:  # at most 4 bytes a character: no need to encode
        return value
    encoded = text.encode()
    if len(encoded) <= MAX_BYTES:
        return value
    cut = encoded[: MAX_BYTES - _MARKER_ROOM].decode("utf-8", "ignore")
    return {TRUNCATED: {"bytes": len(encoded), "preview": cut}}


def is_truncated(value: Any) -> bool:
    return isinstance(value, dict) and TRUNCATED in value


def answer_of(result: CallToolResult | InputRequiredResult) -> Any:
    """What the caller was told: the structured content where there is one
    (a receipt, a query's result), else the text blocks joined."""
    if isinstance(result, InputRequiredResult):
        return {"input_required": True}
    if result.structured_content is not None:
        return result.structured_content
    return "\n".join(_texts(result.content))


def _texts(blocks: Iterable[object]) -> Iterable[str]:
    return (b.text for b in blocks if isinstance(b, TextContent))


# Arguments and answers are JSON trees, never cyclic: no cycle check.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False,
                            default=str)
_dump = _ENCODER.encode
