"""Spans: the correlation id on each, one per delivery, errors recorded.

Needs the OpenTelemetry SDK (the API alone records nothing)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from signoff.server.app import App
from signoff.server.observability import span, tool_span

from .conftest import RecordingSink, make_relay
from .test_observability import capture_logs

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk needed")
in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
export = pytest.importorskip("opentelemetry.sdk.trace.export")


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    yield from capture_logs()


@pytest.fixture(scope="module")
def spans() -> Any:
    """An in-memory exporter on the global SDK tracer provider (which can be
    set once per process: if someone set one already, join it)."""
    from opentelemetry import trace

    exporter = in_memory.InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, sdk_trace.TracerProvider):
        provider = sdk_trace.TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def exporter(spans: Any) -> Any:
    spans.clear()
    return spans


def test_span_carries_the_correlation_id_and_records_errors(exporter: Any) -> None:
    with span("work", correlation_id="corr-9", tenant_id="acme", secret_key="s", missing=None):
        pass
    with pytest.raises(RuntimeError), span("broken", correlation_id="corr-9"):
        raise RuntimeError("nope")
    done, broken = exporter.get_finished_spans()
    assert done.name == "work"
    assert dict(done.attributes) == {"signoff.correlation_id": "corr-9",
                                     "signoff.tenant_id": "acme",
                                     "signoff.secret_key": "[redacted]"}
    assert broken.status.status_code.name == "ERROR"
    assert broken.events[0].name == "exception"


def test_tool_span_binds_the_ids_for_the_call(exporter: Any, log_stream: io.StringIO) -> None:
    with tool_span("get_case_summary", principal_id="agent:triage", tenant_id="acme",
                   correlation_id="corr-2", run_id="run-2"):
        logging.getLogger("signoff.test").info("inside")
    [tool] = exporter.get_finished_spans()
    assert tool.name == "tool get_case_summary"
    assert tool.attributes["signoff.principal_id"] == "agent:triage"
    assert tool.attributes["signoff.kind"] == "query"
    line = json.loads(log_stream.getvalue())
    assert (line["correlation_id"], line["run_id"], line["tenant_id"]) == (
        "corr-2", "run-2", "acme")


@pytest.mark.anyio
async def test_the_relay_makes_a_span_per_delivery(app: App, exporter: Any) -> None:
    rows = await app.store.read(lambda uow: uow.outbox.find(limit=10_000))
    await make_relay(app, RecordingSink("rec")).drain()
    published = [s for s in exporter.get_finished_spans() if s.name == "outbox.publish"]
    assert len(published) == len(rows)
    first = next(s for s in published if s.attributes["signoff.message_id"] == rows[0].message_id)
    assert (first.attributes["signoff.sink"], first.attributes["signoff.topic"],
            first.attributes["signoff.correlation_id"]) == ("rec", rows[0].topic, "seed")
