"""Where the outbox relay publishes: a JSONL file, a webhook (NATS JetStream is
in `nats_sink`).

A sink takes one message at a time and raises when it could not take it;
the relay then retries the message later. Delivery is at least once, so every
sink hands the receiver what it needs to drop duplicates: the message id (a
field of each JSONL line, the webhook's `Idempotency-Key` header, the NATS
`Nats-Msg-Id` header that JetStream deduplicates on).

Webhook requests are signed so the receiver can tell they come from signoff
and were not replayed later:

    X-Signoff-Timestamp: <unix seconds>
    X-Signoff-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>

A receiver recomputes the HMAC over the timestamp header, a dot and the raw
body, compares in constant time, and refuses timestamps older than a few
minutes. Approval notifications carry a link to the proposal's page in the
reviewer console and nothing that could approve it: approving needs the
reviewer's own credentials there.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import httpx2

from signoff.server.errors import SignoffError
from signoff.store.records import OutboxMessage

APPROVAL_TOPICS = frozenset({"approval.requested", "approval.expired"})
SIGNATURE_HEADER = "X-Signoff-Signature"
TIMESTAMP_HEADER = "X-Signoff-Timestamp"


class SinkError(SignoffError):
    """A sink could not take a message; the relay retries it later."""


class Sink(Protocol):
    """Something the relay publishes to. `publish` raises on failure;
    `flush` makes everything published so far durable (the relay calls it
    before it marks a batch published); `close` releases connections.

    `timeout` bounds one `publish` in seconds (0 when the sink has none of its
    own): the relay starts no publish that could outlast its lease. An
    `internal` sink runs inside this process and acts on the message itself
    (a consumer): it gets the message as committed, where every other sink
    gets it with secrets and sensitive fields redacted."""

    name: str
    timeout: float
    internal: bool

    def wants(self, message: OutboxMessage) -> bool: ...

    async def publish(self, message: OutboxMessage) -> None: ...

    async def flush(self) -> None: ...

    async def close(self) -> None: ...


class BaseSink:
    """Topic filtering and no-op flush/close for sinks that need neither."""

    timeout: float = 0.0
    internal: bool = False

    def __init__(self, name: str, topics: Sequence[str] = ("*",)) -> None:
        self.name = name
        self._topics = tuple(topics)

    def wants(self, message: OutboxMessage) -> bool:
        return any(fnmatch.fnmatchcase(message.topic, t) for t in self._topics)

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None


def message_document(message: OutboxMessage, console_url: str | None = None) -> dict[str, Any]:
    """What a sink sends: the message's identity, routing and payload, plus
    for approval topics a link to the proposal in the reviewer console."""
    doc: dict[str, Any] = {
        "id": message.message_id,
        "topic": message.topic,
        "tenant_id": message.tenant_id,
        "aggregate_id": message.aggregate_id,
        "correlation_id": message.correlation_id,
        "causation_id": message.causation_id,
        "created_at": message.created_at.isoformat(),
        "payload": message.payload,
    }
    proposal_id = message.payload.get("proposal_id")
    if console_url and message.topic in APPROVAL_TOPICS and isinstance(proposal_id, str):
        doc["links"] = {"proposal": f"{console_url.rstrip('/')}/proposals/{proposal_id}"}
    return doc


def encode(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str).encode()


# --- JSONL ------------------------------------------------------------------------


class JsonlSink(BaseSink):
    """Appends one JSON line per message. `publish` only encodes the line;
    `flush` appends the batch's lines in one `write` on an O_APPEND
    descriptor, so lines from several relay processes never interleave, and
    fsyncs: one write and one fsync per relay batch rather than per line. A
    line is in the file only once its batch is flushed, and the relay marks
    nothing published before that."""

    def __init__(self, name: str, path: Path, topics: Sequence[str] = ("*",),
                 console_url: str | None = None) -> None:
        super().__init__(name, topics)
        self.path = path
        self._console_url = console_url
        self._fd: int | None = None
        self._lines: list[bytes] = []

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self._fd

    async def publish(self, message: OutboxMessage) -> None:
        self._lines.append(encode(message_document(message, self._console_url)) + b"\n")

    async def flush(self) -> None:
        data = b"".join(self._lines)
        self._lines.clear()  # written now or failed with their rows, never later
        if data:
            await anyio.to_thread.run_sync(self._append, data)
        elif self._fd is not None:
            await anyio.to_thread.run_sync(os.fsync, self._fd)

    def _append(self, data: bytes) -> None:
        try:
            fd = self._open()
            view = memoryview(data)
            while view:  # a short write (a full disk, a signal): finish the line
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as exc:
            raise SinkError(f"cannot append to {self.path}: {exc.strerror}") from exc

    async def close(self) -> None:
        self._lines.clear()  # never flushed: their rows were not marked published
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# --- webhook ------------------------------------------------------------------------


def origin(url: str) -> str:
    """`scheme://host[:port]` of a URL: how errors and logs name a webhook.
    User, password, path and query are left out: they often are credentials
    (a Slack hook's path, `?token=`), and errors end up in the outbox row,
    the logs, `outbox status` and the trace."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


class WebhookSink(BaseSink):
    """POSTs each message as JSON. Any non-2xx answer, timeout or connection
    error is a failure (retried by the relay); the message id goes in the
    `Idempotency-Key` header for the receiver's deduplication."""

    def __init__(
        self, name: str, url: str, secret: bytes, *, topics: Sequence[str] = ("*",),
        console_url: str | None = None, timeout: float = 10.0,
        client: httpx2.AsyncClient | None = None,
    ) -> None:
        super().__init__(name, topics)
        self.url = url
        self.timeout = timeout
        self._secret = secret
        self._console_url = console_url
        self._client = client or httpx2.AsyncClient(timeout=httpx2.Timeout(timeout))

    async def publish(self, message: OutboxMessage) -> None:
        body = encode(message_document(message, self._console_url))
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.message_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
            "User-Agent": "signoff-relay",
        }
        try:
            response = await self._client.post(self.url, content=body, headers=headers)
        except httpx2.HTTPError as exc:
            # The exception's text may quote the URL: only its type goes out.
            raise SinkError(f"POST {origin(self.url)}: {type(exc).__name__}") from None
        if not 200 <= response.status_code < 300:
            raise SinkError(f"POST {origin(self.url)}: HTTP {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()
