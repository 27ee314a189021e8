"""Spans, structured logs and redaction: what an operator sees of signoff.

Spans go through the OpenTelemetry API, which is a no-op until a tracer
provider is installed; `configure_tracing` installs one only when an OTLP
endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT`) and the SDK and
exporter are importable, so nothing is exported, and nothing costs more than
a function call, by default. Every span carries the correlation id, so one
request can be followed from the tool call through the policy gate and the
executor to each delivery.

Logs are stdlib logging with a JSON formatter on stderr: one object per line,
with the ids bound to the current task (`bound(correlation_id=...)`) and the
record's `extra` fields. Everything that leaves the process as text (logs,
the trace, notifications) goes through `redact` first.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from opentelemetry import trace
from pydantic import BaseModel

from signoff.server.domain import Domain

P = ParamSpec("P")
R = TypeVar("R")

REDACTED = "[redacted]"
# A key containing any of these (case-insensitive, '-' read as '_') never shows
# its value.
SECRET_MARKERS = (
    "token", "secret", "password", "passwd", "authorization", "api_key", "apikey",
    "private_key", "credential", "cookie",
)
TRACER_NAME = "signoff"

_bound: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "signoff_log_ids", default=None
)
_tracing_configured = False
# A proxy: it follows whatever tracer provider is installed later.
_tracer = trace.get_tracer(TRACER_NAME)


# --- redaction -----------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    lowered = key.lower().replace("-", "_")  # header spellings too: X-API-Key
    return any(marker in lowered for marker in SECRET_MARKERS)


# Each marker as a key may spell it, '-' for '_' (is_secret_key reads both).
_MARKER_SPELLINGS = frozenset(SECRET_MARKERS) | {m.replace("_", "-") for m in SECRET_MARKERS}


def nothing_to_redact(text: str, sensitive: Iterable[str] = ()) -> bool:
    """True when the JSON `text` holds no key `redact` would hide: no secret
    marker anywhere in it, no `sensitive` name as a quoted string. Substring
    tests, to spare a large document the walk; False may still find nothing."""
    lowered = text.lower()
    if any(marker in lowered for marker in _MARKER_SPELLINGS):
        return False
    return not any(json.dumps(name, ensure_ascii=False) in text or json.dumps(name) in text
                   for name in sensitive)


def redact(doc: Any, sensitive: Iterable[str] = ()) -> Any:
    """`doc` (dicts, lists, scalars, nested) with the values of secret-looking
    keys and of the `sensitive` field names replaced by "[redacted]". The
    input is never modified: what changes is copied, and a document with
    nothing to redact comes back as it is (it is on every delivery's path)."""
    names = sensitive if isinstance(sensitive, frozenset) else frozenset(sensitive)
    return _redact(doc, names)


def _redact(value: Any, names: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return _redact_dict(value, names)
    if isinstance(value, list | tuple):
        items = [_redact(v, names) for v in value]
        if isinstance(value, list) and all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return items
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Mapping):
        return _redact_dict(dict(value), names)
    return value


# Values `_redact` returns as they are, told apart by exact type: a document
# is mostly these, and one test per value instead of a call is most of
# redaction's cost on the relay's path (issue 13).
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _redact_dict(value: dict[Any, Any], names: frozenset[str]) -> dict[Any, Any]:
    copy: dict[Any, Any] | None = None
    for key, item in value.items():
        hidden = isinstance(key, str) and (key in names or is_secret_key(key))
        if not hidden and type(item) in _PLAIN:
            continue
        new = REDACTED if hidden else _redact(item, names)
        if new is not item:
            if copy is None:
                copy = dict(value)
            copy[key] = new
    return value if copy is None else copy


def sensitive_fields(model: type[BaseModel]) -> frozenset[str]:
    """Field names marked `json_schema_extra={"sensitive": True}` in `model`
    and in the models nested in it."""
    found: set[str] = set()
    seen: set[type[BaseModel]] = set()

    def walk(m: type[BaseModel]) -> None:
        if m in seen:
            return
        seen.add(m)
        for name, info in m.model_fields.items():
            extra = info.json_schema_extra
            if isinstance(extra, dict) and extra.get("sensitive") is True:
                found.add(info.alias or name)
            for nested in _models_in(info.annotation):
                walk(nested)

    walk(model)
    return frozenset(found)


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _models_in(arg)


def domain_sensitive_fields(domain: Domain) -> frozenset[str]:
    """Every field a domain marks sensitive: in command payloads, query
    arguments and query results. Event payloads reuse these names."""
    models: list[type[BaseModel]] = [c.payload for c in domain.commands]
    for query in domain.queries:
        models += [query.args, query.result]
    return frozenset().union(*(sensitive_fields(m) for m in models))


# --- spans -----------------------------------------------------------------------


def configure_tracing(service_name: str = "signoff") -> bool:
    """Install an OTLP exporting tracer provider if one is configured and
    available; True if it did. Safe to call more than once."""
    global _tracing_configured
    if _tracing_configured or not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return _tracing_configured
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
            OTLPSpanExporter,
        )
        from opentelemetry.sdk.resources import Resource  # type: ignore[import-not-found,unused-ignore]
        from opentelemetry.sdk.trace import TracerProvider  # type: ignore[import-not-found,unused-ignore]
        from opentelemetry.sdk.trace.export import (  # type: ignore[import-not-found,unused-ignore]
            BatchSpanProcessor,
        )
    except ImportError:
        logging.getLogger("signoff.observability").warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but opentelemetry-sdk or "
            "opentelemetry-exporter-otlp-proto-http is not installed; spans are not exported")
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _tracing_configured = True
    return True


def _attribute(value: Any) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


class _NoSpan:
    """The block of a span nobody records: the invalid span, nothing else."""

    __slots__ = ()

    def __enter__(self) -> trace.Span:
        return trace.INVALID_SPAN

    def __exit__(self, *exc: object) -> None:
        return None


_NO_SPAN = _NoSpan()


def span(
    name: str, *, correlation_id: str | None = None, **attributes: Any
) -> AbstractContextManager[trace.Span]:
    """A span named `name` with `signoff.correlation_id` and the other
    attributes as `signoff.<key>` (secret-looking keys redacted, None left
    out). An exception escaping the block is recorded on the span.

    Until a tracer provider is set (no exporter configured, the usual case)
    the API's proxy would only hand out non-recording spans: the block then
    runs with the invalid span and none of the API's context work, which was
    a measurable part of each command's time inside the writer (issue 13);
    and without a generator behind it either, since spans run inside the
    writer's transaction."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return _NO_SPAN
    return _recorded(name, correlation_id, attributes)


@contextmanager
def _recorded(
    name: str, correlation_id: str | None, attributes: dict[str, Any]
) -> Iterator[trace.Span]:
    with _tracer.start_as_current_span(name) as current:
        if current.is_recording():  # no attribute work for the no-op tracer
            clean = redact({"correlation_id": correlation_id, **attributes})
            for key, value in clean.items():
                converted = _attribute(value)
                if converted is not None:
                    current.set_attribute(f"signoff.{key}", converted)
        yield current


@contextmanager
def tool_span(
    tool: str, *, principal_id: str, tenant_id: str, correlation_id: str | None = None,
    run_id: str | None = None, kind: str = "query",
) -> Iterator[trace.Span]:
    """The span and log ids of one MCP tool call: wrap the handler's body in
    it. The ids are bound for the call, so every log line inside carries them."""
    with bound(correlation_id=correlation_id, run_id=run_id, principal_id=principal_id,
               tenant_id=tenant_id), \
            span(f"tool {tool}", correlation_id=correlation_id, run_id=run_id,
                 principal_id=principal_id, tenant_id=tenant_id, tool=tool, kind=kind) as s:
        yield s


def traced(name: str) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Decorate an async function so each call runs in a span `name`; a
    `correlation_id` keyword argument, if passed, becomes its attribute."""

    def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            correlation = kwargs.get("correlation_id")
            with span(name, correlation_id=correlation if isinstance(correlation, str) else None):
                return await fn(*args, **kwargs)

        return wrapper

    return decorate


# --- logs -------------------------------------------------------------------------


@contextmanager
def bound(**ids: Any) -> Iterator[None]:
    """Add ids (None values are left out) to every log line written inside."""
    merged = {**(_bound.get() or {}), **{k: v for k, v in ids.items() if v is not None}}
    token = _bound.set(merged)
    try:
        yield
    finally:
        _bound.reset(token)


# Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the bound
    ids, the record's extra fields (redacted) and the exception, if any."""

    def __init__(self, sensitive: Iterable[str] = ()) -> None:
        super().__init__()
        self._sensitive = frozenset(sensitive)

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **(_bound.get() or {}),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(redact(doc, self._sensitive), default=str, ensure_ascii=False)


def configure_logging(
    level: int | str = logging.INFO, *, stream: Any = None, sensitive: Iterable[str] = (),
) -> logging.Handler:
    """Send the `signoff` loggers to `stream` (stderr) as JSON lines. Replaces
    a handler this function installed before, so calling it twice is safe."""
    logger = logging.getLogger("signoff")
    for old in [h for h in logger.handlers if getattr(h, "_signoff_json", False)]:
        logger.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(sensitive))
    handler._signoff_json = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return handler
