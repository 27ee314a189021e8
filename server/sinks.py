"""Where the outbox relay publishes: a JSONL file, a webhook, NATS JetStream.

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
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import anyio
import anyio.to_thread
import httpx2

from signoff.store.records import OutboxMessage

APPROVAL_TOPICS = frozenset({"approval.requested", "approval.expired"})
SIGNATURE_HEADER = "X-Signoff-Signature"
TIMESTAMP_HEADER = "X-Signoff-Timestamp"


class SinkError(Exception):
    """A sink could not take a message; the relay retries it later."""


class Sink(Protocol):
    """Something the relay publishes to. `publish` raises on failure;
    `flush` makes everything published so far durable (the relay calls it
    before it marks a batch published); `close` releases connections."""

    name: str

    def wants(self, message: OutboxMessage) -> bool: ...

    async def publish(self, message: OutboxMessage) -> None: ...

    async def flush(self) -> None: ...

    async def close(self) -> None: ...


class BaseSink:
    """Topic filtering and no-op flush/close for sinks that need neither."""

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
    """Appends one JSON line per message. Each line is one `write` on an
    O_APPEND descriptor, so lines from several relay processes never
    interleave; `flush` fsyncs, once per batch rather than once per line."""

    def __init__(self, name: str, path: Path, topics: Sequence[str] = ("*",),
                 console_url: str | None = None) -> None:
        super().__init__(name, topics)
        self.path = path
        self._console_url = console_url
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self._fd

    async def publish(self, message: OutboxMessage) -> None:
        line = encode(message_document(message, self._console_url)) + b"\n"
        try:
            fd = self._open()
            written = os.write(fd, line)
        except OSError as exc:
            raise SinkError(f"cannot append to {self.path}: {exc.strerror}") from exc
        if written != len(line):
            raise SinkError(f"short write to {self.path}")

    async def flush(self) -> None:
        if self._fd is not None:
            await anyio.to_thread.run_sync(os.fsync, self._fd)

    async def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# --- webhook ------------------------------------------------------------------------


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
            raise SinkError(f"POST {self.url}: {type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise SinkError(f"POST {self.url}: HTTP {response.status_code}")

    async def close(self) -> None:
        await self._client.aclose()


# --- NATS JetStream -----------------------------------------------------------------

_SUBJECT_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


def subject_for(prefix: str, message: OutboxMessage) -> str:
    """`<prefix>.<tenant>.<topic>`, e.g. signoff.acme.notice.sent. A tenant id
    is one subject token: characters NATS would read as separators or
    wildcards become '_'."""
    return f"{prefix}.{_SUBJECT_UNSAFE.sub('_', message.tenant_id)}.{message.topic}"


class NatsSink(BaseSink):
    """Publishes to JetStream and waits for the stream's acknowledgement. The
    message id is the `Nats-Msg-Id` header, so a redelivery within the
    stream's duplicate window is stored once. With `stream` set, the stream
    is created (subjects `<prefix>.>`) if it does not exist."""

    def __init__(
        self, name: str, servers: Sequence[str], *, subject_prefix: str = "signoff",
        stream: str | None = None, topics: Sequence[str] = ("*",), timeout: float = 5.0,
        console_url: str | None = None,
    ) -> None:
        super().__init__(name, topics)
        self.servers = list(servers)
        self.subject_prefix = subject_prefix
        self.stream = stream
        self._timeout = timeout
        self._console_url = console_url
        self._nc: Any = None
        self._js: Any = None
        self._lock = anyio.Lock()
        self._down_until = 0.0
        self._down_reason = ""

    async def _jetstream(self) -> Any:
        import nats  # imported here: only a relay configured for NATS needs nats-py
        from nats.js.errors import NotFoundError

        async with self._lock:  # concurrent publishes share one connection
            if self._js is None:
                if time.monotonic() < self._down_until:
                    # The server was unreachable a moment ago: fail the rest of
                    # the batch now instead of waiting for each to time out.
                    raise SinkError(f"NATS unreachable: {self._down_reason}")
                try:
                    # No reconnecting inside nats-py: a failure goes back to the
                    # relay (retry with backoff), the next publish reconnects.
                    # (max_reconnect_attempts also bounds the first connect:
                    # each server is tried twice, then NoServersError.)
                    nc = await nats.connect(
                        servers=self.servers, connect_timeout=max(1, round(self._timeout)),
                        allow_reconnect=False, max_reconnect_attempts=1, reconnect_time_wait=0,
                    )
                except Exception as exc:
                    self._down_until = time.monotonic() + self._timeout
                    self._down_reason = f"{type(exc).__name__}: {exc}"
                    raise SinkError(f"NATS connect: {self._down_reason}") from exc
                try:
                    js = nc.jetstream(timeout=self._timeout)
                    if self.stream:
                        try:
                            await js.stream_info(self.stream)
                        except NotFoundError:
                            await js.add_stream(name=self.stream,
                                                subjects=[f"{self.subject_prefix}.>"])
                except BaseException:
                    await nc.close()
                    raise
                self._nc, self._js = nc, js
            return self._js

    async def publish(self, message: OutboxMessage) -> None:
        from nats.errors import Error as NatsError

        body = encode(message_document(message, self._console_url))
        try:
            js = await self._jetstream()
            await js.publish(
                subject_for(self.subject_prefix, message), body, timeout=self._timeout,
                headers={"Nats-Msg-Id": message.message_id},
            )
        except (NatsError, OSError, TimeoutError) as exc:
            await self.close()  # reconnect on the next attempt
            raise SinkError(f"NATS publish: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        async with self._lock:
            nc, self._nc, self._js = self._nc, None, None
            if nc is not None and not nc.is_closed:
                await nc.close()
