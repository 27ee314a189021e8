"""A request's W3C trace context (`traceparent` in its `_meta`) is the parent
of signoff's spans for the call, and its trace id the call's run.

Needs the OpenTelemetry SDK (the API alone records nothing)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from mcp import Client
from mcp_types import RequestParamsMeta

from signoff.server.app import App
from signoff.server.mcp.identity import FixedIdentity
from signoff.server.mcp.server import build_server
from tests.mcp.conftest import open_app

sdk_trace = pytest.importorskip("opentelemetry.sdk.trace", reason="opentelemetry-sdk needed")
in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
export = pytest.importorskip("opentelemetry.sdk.trace.export")

TRACE_ID = "5b8efff798038103d269b633813fc60c"
PARENT = "eee19b7ec3c1b174"
META = cast(RequestParamsMeta, {"traceparent": f"00-{TRACE_ID}-{PARENT}-01"})


@pytest.fixture(scope="module")
def spans() -> Any:
    """An in-memory exporter on the global SDK tracer provider (which can be
    set once per process: if another module set one already, join it)."""
    from opentelemetry import trace

    exporter = in_memory.InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, sdk_trace.TracerProvider):
        provider = sdk_trace.TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
async def app(db: Path) -> AsyncIterator[App]:
    async with open_app(db) as opened:
        yield opened


@pytest.mark.anyio
async def test_the_traceparent_is_the_parent_of_the_tool_span(app: App, spans: Any) -> None:
    spans.clear()
    record = app.principals.get("agent:triage")
    assert record is not None
    server = build_server(app, FixedIdentity(record.facts("acme")))
    async with server.running(), Client(server) as client:
        assert not (await client.call_tool("list_cases", {}, meta=META)).is_error
    [tool] = [s for s in spans.get_finished_spans() if s.name == "tool list_cases"]
    assert format(tool.context.trace_id, "032x") == TRACE_ID
    assert tool.attributes["signoff.run_id"] == f"trace:{TRACE_ID}"
    # Under the SDK's server span for the request, itself under the client's span.
    [request] = [s for s in spans.get_finished_spans() if s.context.span_id == tool.parent.span_id]
    assert format(request.parent.span_id, "016x") == PARENT
