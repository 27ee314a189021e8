"""The MCP server object: the domain's tools, the proposal resource, and who
may see what.

`build_server(app, identity)` returns a `SignoffServer`, an `MCPServer`
(mcp 2.x) that speaks the 2026-07-28 protocol and the handshake-era versions
over any transport; nothing connects until a transport runs it. What the SDK
does not do on its own, and how it is added here:

- per-caller tool lists: `list_tools` is overridden to drop the tools the
  caller's policy does not let them use (the SDK lists every tool to all);
  a call to such a tool is refused by the tool itself ("not permitted").
- `resources/subscribe` for handshake-era clients: `MCPServer` registers no
  handler, so the subclass adds one on the low-level server, as the SDK's
  docs advise for spec methods the 2026 revision removed.
- `subscriptions/listen` (2026-07-28) is served by the SDK; a middleware
  narrows each request's resource URIs to proposals of the caller's tenant.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from importlib import metadata
from typing import Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    EmptyResult,
    SubscribeRequestParams,
    UnsubscribeRequestParams,
)
from mcp_types import Tool as MCPTool

from signoff.policies import PrincipalFacts
from signoff.server.app import App
from signoff.server.mcp.auth import HttpAuth
from signoff.server.mcp.identity import Identity
from signoff.server.mcp.resources import DEFAULT_INTERVAL, TEMPLATE, ProposalWatch
from signoff.server.mcp.runtime_log import RuntimeLogWriter
from signoff.server.mcp.schemas import GET_PROPOSAL
from signoff.server.mcp.tools import ToolRunner, make_tool, tool_specs

log = logging.getLogger("signoff.mcp")

INSTRUCTIONS = (
    "signoff separates reading from acting. Query tools are read-only and show only your "
    "tenant's data: read before you propose. Command tools never change anything directly: "
    "each records a proposal that a policy judges - it runs at once, waits for a human "
    "reviewer, or is refused - and answers with a receipt saying which and what to do next. "
    "Cite the evidence ids the queries gave you, state your confidence honestly, pass the "
    "version you read as expected_version, and follow a pending proposal with get_proposal "
    "instead of proposing it again."
)


def _version() -> str:
    try:
        return metadata.version("signoff")
    except metadata.PackageNotFoundError:
        return "0"


def _connection_key(session: ServerSession) -> object:
    """What identifies a client connection across its requests (each request
    gets its own ServerSession proxy over the one connection)."""
    return getattr(session, "_connection", session)


class SignoffServer(MCPServer[Any]):
    def __init__(self, app: App, identity: Identity, *, runtime_log: RuntimeLogWriter,
                 auth: HttpAuth | None = None, watch_interval: float = DEFAULT_INTERVAL) -> None:
        self.app = app
        self.identity = identity
        self.runtime_log = runtime_log
        bus = InMemorySubscriptionBus()
        self.watch = ProposalWatch(app, bus, interval=watch_interval)
        self._runner = ToolRunner(app, identity, runtime_log)
        self._specs = {spec.name: spec for spec in tool_specs(app.domain)}
        super().__init__(
            "signoff", title="signoff", instructions=INSTRUCTIONS, version=_version(),
            tools=[make_tool(spec, self._runner) for spec in self._specs.values()],
            subscriptions=bus, token_verifier=auth.verifier if auth else None,
            auth=auth.settings if auth else None, log_level="WARNING",
            middleware=[self._scope_listen],
        )
        self._add_proposal_resource()
        lowlevel = self._lowlevel_server
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, self._subscribe)
        lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams,
                                     self._unsubscribe)

    async def list_tools(self) -> list[MCPTool]:
        """The tools the current caller may use, and only those."""
        principal = self.identity.current()
        if principal is None:
            return []
        return [
            tool for tool in await super().list_tools()
            if (spec := self._specs.get(tool.name)) is not None
            and self._runner.permits(spec, principal)
        ]

    def _add_proposal_resource(self) -> None:
        app, identity = self.app, self.identity

        async def read_proposal(proposal_id: str, ctx: Context[Any, Any]) -> str:
            principal = identity.current()
            if principal is None or not app.gate().policy.may_query(principal, GET_PROPOSAL):
                raise ResourceError("not permitted")
            receipt = await app.proposals.receipt(principal, proposal_id)
            if receipt is None:  # absent and another tenant's look the same
                raise ResourceNotFoundError(f"proposal {proposal_id} not found")
            return receipt.model_dump_json()

        self.resource(
            TEMPLATE, name="proposal", title="Proposal receipt", mime_type="application/json",
            description="The current receipt of one proposal, as get_proposal returns it. "
            "Subscribe to be told when it is decided or executed.",
        )(read_proposal)

    async def _subscribe(self, ctx: ServerRequestContext[Any, Any],
                         params: SubscribeRequestParams) -> EmptyResult:
        uri = str(params.uri)
        principal = self.identity.current()
        key = _connection_key(ctx.session)
        if principal is None or not self._may_watch(principal) or not await self.watch.add(
                uri, key, principal, ctx.session.send_resource_updated):
            raise MCPError(code=INVALID_PARAMS, message=f"resource {uri} not found")
        # Forget the subscription when the connection closes (the SDK unwinds
        # this stack on disconnect): nothing else would, for a final proposal.
        stack = getattr(key, "exit_stack", None)
        if isinstance(stack, AsyncExitStack):
            stack.callback(self.watch.remove, uri, key)
        return EmptyResult()

    def _may_watch(self, principal: PrincipalFacts) -> bool:
        """Watching a proposal is reading it: the same rule as get_proposal."""
        return self.app.gate().policy.may_query(principal, GET_PROPOSAL)

    async def _unsubscribe(self, ctx: ServerRequestContext[Any, Any],
                           params: UnsubscribeRequestParams) -> EmptyResult:
        self.watch.remove(str(params.uri), _connection_key(ctx.session))
        return EmptyResult()

    async def _scope_listen(self, ctx: ServerRequestContext[Any, Any],
                            call_next: CallNext) -> HandlerResult:
        """Keep a listen stream's resource URIs to proposals the caller may see."""
        if ctx.method != "subscriptions/listen" or not isinstance(ctx.params, dict):
            return await call_next(ctx)
        notifications = ctx.params.get("notifications")
        uris = notifications.get("resourceSubscriptions") if isinstance(notifications,
                                                                       dict) else None
        if not isinstance(uris, list) or not uris:
            return await call_next(ctx)
        assert isinstance(notifications, dict)
        principal, key = self.identity.current(), object()
        allowed = [
            uri for uri in uris
            if isinstance(uri, str) and principal is not None and self._may_watch(principal)
            and await self.watch.add(uri, key, principal, None)
        ]
        params = {**ctx.params,
                  "notifications": {**notifications, "resourceSubscriptions": allowed}}
        try:
            return await call_next(replace(ctx, params=params))
        finally:
            for uri in allowed:
                self.watch.remove(uri, key)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[SignoffServer]:
        """The server's own background work: the runtime log writer and the
        subscription watcher. The runtime log is flushed on the way out."""
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self.runtime_log.run)
            tasks.start_soon(self.watch.run)
            try:
                yield self
            finally:
                tasks.cancel_scope.cancel()


def build_server(app: App, identity: Identity, *, auth: HttpAuth | None = None,
                 runtime_log: RuntimeLogWriter | None = None,
                 watch_interval: float = DEFAULT_INTERVAL) -> SignoffServer:
    """The MCP server for `app`, answering as `identity` says the caller is.
    Run it inside `server.running()` so its runtime log gets written."""
    return SignoffServer(app, identity, runtime_log=runtime_log or RuntimeLogWriter(app.store),
                         auth=auth, watch_interval=watch_interval)
