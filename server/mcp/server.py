"""The MCP server object: the domain's tools, the proposal resource, and who
may see what.

`build_server(app, identity)` returns a `SignoffServer`: the SDK's low-level
`Server` (mcp 2.x) with signoff's handlers, speaking the 2026-07-28 protocol
and the handshake-era versions over any transport; nothing connects until a
transport runs it (`serving.serve`, or `mcp.Client(server)` in process).

It is built on the low-level tier, through its public handler API, because
signoff decides what the high-level `MCPServer` would decide for it:

- tools/list is per caller: it shows only the tools the caller's policy lets
  them use; a call to any other is refused by the tool itself ("not
  permitted"), with a receipt for command tools.
- tools/call goes to `ToolRunner`, which validates the arguments itself, so
  that every refusal of a command is a structured receipt.
- the proposal resource, its handshake-era `resources/subscribe` and the
  scoping of `subscriptions/listen` streams are `ProposalResource`'s; the SDK
  serves the listen streams from the subscription bus.
- the SDK's `RequestStateBoundary` seals the `requestState` of requester
  confirmation, installed as `MCPServer` installs it - under the keys given
  (`SIGNOFF_REQUEST_STATE_KEY`), so that every process behind a load
  balancer opens what another sealed, else under a key of this process's.

Built with `stateless=True` (what `signoff serve --transport http` does
unless given `--http-sessions stateful`), its HTTP app keeps no session:
each request stands alone, so any process on the same database answers it
(README "Serve over HTTP"). What needs a session is then off:
handshake-era `resources/subscribe` (not offered) and server-to-client
requests in the middle of a call (a handshake-era requester confirmation
falls back to the receipt). Everything else is in the database, or sealed
into the request state the client sends back.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from importlib import metadata
from typing import Any

import anyio
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context, RequestStateBoundary, RequestStateSecurity
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler
from mcp.shared.inbound import find_invalid_x_mcp_header, x_mcp_header_map
from mcp_types import (
    CallToolRequestParams,
    CallToolResult,
    InputRequiredResult,
    ListToolsResult,
    PaginatedRequestParams,
)
from mcp_types import Tool as MCPTool
from starlette.applications import Starlette

from signoff.server.app import App
from signoff.server.gateway import GatewayRuntime
from signoff.server.mcp.app_card import AppCard, bind
from signoff.server.mcp.auth import HttpAuth
from signoff.server.mcp.gateway_tools import gateway_specs
from signoff.server.mcp.identity import Identity
from signoff.server.mcp.resources import DEFAULT_INTERVAL, ProposalResource, ProposalWatch
from signoff.server.mcp.runtime_log import RuntimeLogWriter
from signoff.server.mcp.stateless_http import NoStandaloneStream
from signoff.server.mcp.tasks import DEFAULT_POLL_INTERVAL_MS, TasksExtension, install
from signoff.server.mcp.tools import ToolRunner, ToolSpec, error_result, make_tool, tool_specs

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


def request_state_security(keys: Sequence[str] = ()) -> RequestStateSecurity:
    """AES-GCM under `keys` (the first seals, all open: rotation), else under
    a key made now that only this process holds. Raises ValueError for a key
    shorter than 32 bytes."""
    if not keys:
        return RequestStateSecurity.ephemeral()
    return RequestStateSecurity(keys=list(keys))


class SignoffServer(Server[Any]):
    def __init__(self, app: App, identity: Identity, *, runtime_log: RuntimeLogWriter,
                 auth: HttpAuth | None = None, watch_interval: float = DEFAULT_INTERVAL,
                 gateway: GatewayRuntime | None = None,
                 task_poll_ms: int = DEFAULT_POLL_INTERVAL_MS, stateless: bool = False,
                 request_state: RequestStateSecurity | None = None) -> None:
        self.app = app
        self.stateless = stateless
        self.gateway = gateway
        self.identity = identity
        self.runtime_log = runtime_log
        self.auth = auth
        self._bus = InMemorySubscriptionBus()
        self.watch = ProposalWatch(app, self._bus, interval=watch_interval)
        proposals = ProposalResource(app, identity, self.watch)
        self._runner = ToolRunner(app, identity, runtime_log)
        # The domain's tools, fixed; the gateway's, as each tenant's upstreams list them.
        self._specs = {spec.name: spec for spec in bind(tool_specs(app.domain, app.commands))}
        self._tools = {name: make_tool(spec) for name, spec in self._specs.items()}
        self._declares: dict[str, tuple[MCPTool, bool]] = {}
        card = AppCard(proposals)  # the MCP App's ui:// resource, then the proposals'
        super().__init__(
            "signoff", title="signoff", instructions=INSTRUCTIONS, version=_version(),
            get_tool_input_schema=self._input_schema,
            on_list_tools=self._list_tools, on_call_tool=self._call_tool,
            on_list_resources=card.list_resources,
            on_list_resource_templates=proposals.list_templates,
            on_read_resource=card.read,
            # A subscription lives on a session; without one (stateless HTTP)
            # it is not offered: clients poll, or listen (2026-07-28).
            on_subscribe_resource=None if stateless else proposals.subscribe,
            on_unsubscribe_resource=None if stateless else proposals.unsubscribe,
            on_subscriptions_listen=ListenHandler(self._bus),
        )
        self.extensions[card.identifier] = {}  # MCP Apps, for the card
        # After the SDK's OpenTelemetry middleware, as MCPServer orders them:
        # the boundary seals requestState (under the shared keys, if given).
        self.middleware += [
            RequestStateBoundary(request_state or RequestStateSecurity.ephemeral(),
                                 default_audience=self.name),
            proposals.scope_listen,
        ]
        # MCP Tasks: a proposal that waits answers with a task (tasks.py).
        self.tasks = TasksExtension(app, identity, poll_interval_ms=task_poll_ms)
        install(self, self.tasks, self._call_tool)

    def _input_schema(self, name: str) -> Mapping[str, Any] | None:
        """What the SDK checks a call's `Mcp-Param-*` headers against (HTTP):
        None, as for an unknown tool, when the schema declares no header -
        nothing could be rejected, and the SDK would walk it twice a call."""
        tool = self._tools.get(name)
        if tool is None:
            return None
        known = self._declares.get(name)
        if known is None or known[0] is not tool:
            known = self._declares[name] = (tool, declares_headers(tool.input_schema))
        return tool.input_schema if known[1] else None

    async def _specs_for(self, tenant: str) -> dict[str, ToolSpec]:
        if self.gateway is None:
            return self._specs
        found = {s.name: s for s in bind(await gateway_specs(self.app, self.gateway, tenant))}
        for name, spec in found.items():  # for the HTTP Mcp-Param header check
            self._tools.setdefault(name, make_tool(spec))
        return {**self._specs, **found}

    async def _list_tools(self, ctx: ServerRequestContext[Any, Any],
                          params: PaginatedRequestParams | None) -> ListToolsResult:
        """The tools the current caller may use, and only those."""
        principal = self.identity.current()
        if principal is None:
            return ListToolsResult(tools=[])
        specs = await self._specs_for(principal.tenant)
        return ListToolsResult(tools=[
            self._tools.get(name) or make_tool(spec) for name, spec in specs.items()
            if self._runner.permits(spec, principal)
        ])

    async def _call_tool(self, ctx: ServerRequestContext[Any, Any],
                         params: CallToolRequestParams) -> CallToolResult | InputRequiredResult:
        spec = self._specs.get(params.name)
        principal = self.identity.current()
        if spec is None and principal is not None and self.gateway is not None:
            spec = (await self._specs_for(principal.tenant)).get(params.name)
        if spec is None:
            return error_result(f"Unknown tool: {params.name}")
        # The high-level Context, for the SDK's resolver (requester confirmation).
        context: Context[Any, Any] = Context(request_context=ctx, input_params=params,
                                             subscriptions=self._bus)
        return await self._runner.call(spec, params.arguments or {}, context, principal)

    def http_app(self, *, path: str, host: str) -> Starlette:
        """The streamable HTTP app, behind bearer auth when the server has it:
        stateless (no `Mcp-Session-Id`, a fresh transport per request) when
        the server was built so, and then without a standalone GET stream."""
        web = self.streamable_http_app(
            streamable_http_path=path, host=host, stateless_http=self.stateless,
            auth=self.auth.settings if self.auth else None,
            token_verifier=self.auth.verifier if self.auth else None)
        if self.stateless:
            web.add_middleware(NoStandaloneStream, path=path)
        return web

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


def declares_headers(input_schema: Mapping[str, Any]) -> bool:
    """Whether a tool's input schema asks for any `Mcp-Param-*` header (a
    valid `x-mcp-header` annotation; the SDK ignores a schema with an invalid one)."""
    return find_invalid_x_mcp_header(input_schema) is None and bool(
        x_mcp_header_map(input_schema))


def build_server(app: App, identity: Identity, *, auth: HttpAuth | None = None,
                 runtime_log: RuntimeLogWriter | None = None,
                 watch_interval: float = DEFAULT_INTERVAL,
                 gateway: GatewayRuntime | None = None,
                 task_poll_ms: int = DEFAULT_POLL_INTERVAL_MS, stateless: bool = False,
                 request_state_keys: Sequence[str] = ()) -> SignoffServer:
    """The MCP server for `app`, answering as `identity` says the caller is,
    with the gateway's upstream tools when `gateway` runs beside it; for
    stateless HTTP when `stateless`, sealing request state under
    `request_state_keys` (else a key of this process's own).
    Run it inside `server.running()` so its runtime log gets written."""
    return SignoffServer(app, identity, runtime_log=runtime_log or RuntimeLogWriter(app.store),
                         auth=auth, watch_interval=watch_interval, gateway=gateway,
                         task_poll_ms=task_poll_ms, stateless=stateless,
                         request_state=request_state_security(request_state_keys))
