"""The gateway inside a process that serves it (`serve --gateway`, `relay
--gateway`): upstream connections, what each tenant may see of them now, the
read pass-through and the invoker.

What is exposed is decided per tenant from the upstream's own listing: only
tools pinned with the digest the upstream lists now. A tool that is new or
drifted (including after the upstream's `tools/list_changed`) is withheld and
logged until someone pins it again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import mcp_types

from signoff.server.clock import Clock
from signoff.server.gateway.catalogue import drift, exposed
from signoff.server.gateway.invoker import Answer, Invoker
from signoff.server.gateway.model import Upstream
from signoff.server.gateway.pinned import PinnedTool, listed_digest
from signoff.server.gateway.settle import Settler
from signoff.server.gateway.setup import GatewaySetup
from signoff.server.gateway.upstream import Upstreams, UpstreamUnavailable
from signoff.server.services.registry import ConsumerFactory
from signoff.store.ports import Store

log = logging.getLogger("signoff.gateway")
Key = tuple[str, str]  # (upstream, tenant)


def result_document(result: mcp_types.CallToolResult) -> dict[str, Any]:
    """An upstream's answer as recorded and returned: content, structured
    content and isError, as on the wire."""
    doc = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {k: doc[k] for k in ("content", "structuredContent", "isError") if k in doc}


class GatewayRuntime:
    def __init__(self, setup: GatewaySetup, upstreams: Upstreams) -> None:
        self.setup = setup
        self._upstreams = upstreams
        self._listed: dict[Key, list[mcp_types.Tool]] = {}

    def tools_changed(self, upstream: str, tenant: str | None) -> None:
        """The upstream said its tools changed: list them again before use."""
        for key in [k for k in self._listed if k[0] == upstream and tenant in (None, k[1])]:
            del self._listed[key]

    def upstreams_for(self, tenant: str) -> list[Upstream]:
        return [u for u in self.setup.config.upstreams if u.serves(tenant)]

    async def listing(self, upstream: Upstream, tenant: str) -> list[mcp_types.Tool]:
        key = (upstream.name, tenant)
        if key not in self._listed:
            tools = await self._upstreams.list_tools(upstream, tenant)
            self._listed[key] = tools
            found = drift(self.setup.lock, {upstream.name: tools})
            if not found.clean:
                log.warning("upstream %s (tenant %s): tools withheld until pinned again: %s",
                            upstream.name, tenant, found.to_json())
        return self._listed[key]

    async def exposed(self, tenant: str) -> list[PinnedTool]:
        """The pinned tools this tenant sees now; an upstream that cannot list
        its tools shows none (what it would run cannot be checked)."""
        shown: list[PinnedTool] = []
        for upstream in self.upstreams_for(tenant):
            try:
                tools = await self.listing(upstream, tenant)
            except UpstreamUnavailable as exc:
                log.warning("%s", exc.message)
                continue
            shown += exposed(self.setup.lock, {upstream.name: tools})
        return shown

    async def current_digest(self, upstream: str, tenant: str, tool: str) -> str | None:
        """The digest of `tool` as the upstream lists it now, listed afresh (a
        restarted or redeployed upstream need not say its tools changed);
        None when it lists no such tool. Raises UpstreamUnavailable."""
        found = self.setup.config.upstream(upstream)
        if found is None or not found.serves(tenant):
            return None
        tools = await self._upstreams.list_tools(found, tenant)
        self._listed[(found.name, tenant)] = tools
        return next((listed_digest(t) for t in tools if t.name == tool), None)

    async def read(
        self, upstream: str, tenant: str, tool: str, arguments: Mapping[str, Any]
    ) -> Answer:
        """A read tool's call, forwarded as is (bounded and redacted)."""
        return await self.call(upstream, tenant, tool, arguments)

    async def call(
        self, upstream: str, tenant: str, tool: str, arguments: Mapping[str, Any]
    ) -> Answer:
        found = self.setup.config.upstream(upstream)
        if found is None or not found.serves(tenant):
            return Answer("not_sent", reason=f"no upstream {upstream} for tenant {tenant}")
        outcome = await self._upstreams.call_tool(found, tenant, tool, arguments)
        if outcome.kind == "answered" and outcome.result is not None:
            return Answer("answered", result_document(outcome.result),
                          reason=f"answered in {outcome.seconds:.2f}s")
        return Answer(outcome.kind, reason=outcome.message)

    def invoker(self, *, store: Store, settler: Settler, clock: Clock) -> ConsumerFactory:
        """The invoker, for the consumer registry of the relay in this process."""
        # One publish: a fresh listing and the call, each after waiting for a
        # start under way; the relay's lease must outlast all of it.
        slowest = max((u.timeout_seconds for u in self.setup.config.upstreams), default=60.0)
        timeout = 2 * (slowest + self._upstreams.connect_timeout)
        return lambda _place: Invoker(
            store=store, settler=settler, call_upstream=self.call,
            current_digest=self.current_digest, clock=clock, timeout=timeout)


@asynccontextmanager
async def running(
    setup: GatewaySetup, environ: Mapping[str, str] | None = None
) -> AsyncIterator[GatewayRuntime]:
    """Upstream connections for as long as the block runs; closed after."""
    holder: list[GatewayRuntime] = []

    def changed(upstream: str, tenant: str | None) -> None:
        for runtime in holder:
            runtime.tools_changed(upstream, tenant)

    async with Upstreams(environ=os.environ if environ is None else environ,
                         on_tools_changed=changed) as upstreams:
        runtime = GatewayRuntime(setup, upstreams)
        holder.append(runtime)
        yield runtime
