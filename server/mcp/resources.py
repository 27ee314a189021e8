"""The proposal resource `signoff://proposals/{id}` and its subscriptions.

The resource mirrors get_proposal (same receipt, same tenant scoping, and the
same rule decides who may read it). A client may subscribe to it -
`resources/subscribe` on handshake-era connections, `subscriptions/listen` on
2026-07-28 ones - and is told `notifications/resources/updated` when the
proposal's status changes. `ProposalResource` holds the low-level handlers:
list, read, subscribe, unsubscribe, and the middleware that narrows a listen
stream's URIs to the caller's tenant (the SDK serves the stream itself).

How changes are noticed: proposals are decided by people in other processes
(the review CLI, the web console) as often as in this one, so the watcher
reads the status of subscribed proposals (one read transaction, only while
there are subscriptions) after every commit that makes or changes proposals
that the store tells of (`Store.changes`: this process's on SQLite, every
process's on PostgreSQL), and every `interval` (default 2 s) all the same,
for the commits it is not told of.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    EmptyResult,
    ListResourcesResult,
    ListResourceTemplatesResult,
    PaginatedRequestParams,
    ReadResourceRequestParams,
    ReadResourceResult,
    ResourceTemplate,
    SubscribeRequestParams,
    TextResourceContents,
    UnsubscribeRequestParams,
)

from signoff.policies import PrincipalFacts
from signoff.server.app import App
from signoff.server.mcp.identity import Identity
from signoff.server.mcp.schemas import GET_PROPOSAL
from signoff.server.mcp.sdk_adapter import connection_of
from signoff.store.ports import UnitOfWork
from signoff.store.records import ProposalRecord

log = logging.getLogger("signoff.mcp.subscriptions")

PREFIX = "signoff://proposals/"
TEMPLATE = PREFIX + "{proposal_id}"
DEFAULT_INTERVAL = 2.0
NOTIFY_TIMEOUT = 5.0  # seconds a subscriber may take to accept one notification

Notify = Callable[[str], Awaitable[None]]
Stamp = tuple[str, str, int]


def proposal_id_of(uri: str) -> str | None:
    if not uri.startswith(PREFIX):
        return None
    rest = uri[len(PREFIX):]
    return rest if rest and "/" not in rest and len(rest) <= 128 else None


def _stamp(record: ProposalRecord) -> Stamp:
    return record.status, record.updated_at.isoformat(), len(record.event_ids)


@dataclass
class _Subscriber:
    tenant: str
    notify: Notify | None  # None: a listen stream, reached through the bus


class ProposalWatch:
    """Who watches which proposal, and the poller that tells them."""

    def __init__(self, app: App, bus: SubscriptionBus, *,
                 interval: float = DEFAULT_INTERVAL) -> None:
        self._app = app
        self._bus = bus
        self._interval = interval
        self._subscribers: dict[str, dict[object, _Subscriber]] = {}
        self._seen: dict[str, Stamp] = {}

    async def visible(self, principal: PrincipalFacts, uri: str) -> ProposalRecord | None:
        """The proposal behind `uri` if the caller's tenant may see it."""
        proposal_id = proposal_id_of(uri)
        if proposal_id is None:
            return None

        def read(uow: UnitOfWork) -> ProposalRecord | None:
            return uow.proposals.get(proposal_id, principal.tenant)

        return await self._app.store.read(read)

    async def add(self, uri: str, key: object, principal: PrincipalFacts,
                  notify: Notify | None) -> bool:
        """Watch `uri` for `key` (a connection, or a listen stream); False
        when the proposal is not the caller's to see."""
        record = await self.visible(principal, uri)
        if record is None:
            return False
        self._subscribers.setdefault(uri, {})[key] = _Subscriber(principal.tenant, notify)
        self._seen.setdefault(record.proposal_id, _stamp(record))
        return True

    def remove(self, uri: str, key: object) -> None:
        watchers = self._subscribers.get(uri)
        if watchers is None:
            return
        watchers.pop(key, None)
        if not watchers:
            del self._subscribers[uri]
            self._seen.pop(proposal_id_of(uri) or "", None)

    @property
    def watched(self) -> list[str]:
        return sorted(self._subscribers)

    async def run(self) -> None:
        changes = self._app.store.changes()
        while True:
            await changes.wait(self._interval)
            try:
                await self.check()
            except Exception:
                log.exception("checking subscribed proposals failed; retrying")

    async def check(self) -> list[str]:
        """Notify the watchers of every proposal whose status moved; returns their uris."""
        uris = {uri: pid for uri in self._subscribers if (pid := proposal_id_of(uri))}
        if not uris:
            return []

        def read(uow: UnitOfWork) -> dict[str, ProposalRecord]:
            found = {pid: uow.proposals.get(pid, None) for pid in uris.values()}
            return {pid: record for pid, record in found.items() if record is not None}

        records = await self._app.store.read(read)
        changed = []
        for uri, pid in uris.items():
            record = records.get(pid)
            if record is None or self._seen.get(pid) == _stamp(record):
                continue
            self._seen[pid] = _stamp(record)
            changed.append(uri)
            await self._notify(uri, record.tenant_id)
        return changed

    async def _notify(self, uri: str, tenant: str) -> None:
        watchers = dict(self._subscribers.get(uri, {}))
        listening = False
        for key, watcher in watchers.items():
            if watcher.tenant != tenant:
                continue
            if watcher.notify is None:
                listening = True
                continue
            try:
                with anyio.fail_after(NOTIFY_TIMEOUT):  # one stalled client must not stall all
                    await watcher.notify(uri)
            except Exception:  # the connection went away or stalled: forget it
                log.info("dropping a subscriber of %s: %s", uri, "notification failed")
                self.remove(uri, key)
        if listening:
            await self._bus.publish(ResourceUpdated(uri=uri))


PROPOSAL_TEMPLATE = ResourceTemplate(
    uri_template=TEMPLATE, name="proposal", title="Proposal receipt",
    mime_type="application/json",
    description="The current receipt of one proposal, as get_proposal returns it. "
    "Subscribe to be told when it is decided or executed.",
)


class ProposalResource:
    """The MCP handlers of the proposal resource."""

    def __init__(self, app: App, identity: Identity, watch: ProposalWatch) -> None:
        self._app = app
        self._identity = identity
        self._watch = watch

    def _may_read(self, principal: PrincipalFacts | None) -> bool:
        """Reading or watching a proposal is reading it: the rule of get_proposal."""
        return principal is not None and self._app.gate().policy.may_query(
            principal, GET_PROPOSAL)

    async def list_resources(self, ctx: ServerRequestContext[Any, Any],
                             params: PaginatedRequestParams | None) -> ListResourcesResult:
        return ListResourcesResult(resources=[])  # proposals are reached by id, not listed

    async def list_templates(self, ctx: ServerRequestContext[Any, Any],
                             params: PaginatedRequestParams | None
                             ) -> ListResourceTemplatesResult:
        return ListResourceTemplatesResult(resource_templates=[PROPOSAL_TEMPLATE])

    async def read(self, ctx: ServerRequestContext[Any, Any],
                   params: ReadResourceRequestParams) -> ReadResourceResult:
        uri = params.uri
        proposal_id = proposal_id_of(uri)
        if proposal_id is None:
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown resource: {uri}",
                           data={"uri": uri})
        principal = self._identity.current()
        if principal is None or not self._may_read(principal):
            raise MCPError(code=INTERNAL_ERROR, message="not permitted", data={"uri": uri})
        receipt = await self._app.proposals.receipt(principal, proposal_id)
        if receipt is None:  # absent and another tenant's look the same
            raise MCPError(code=INVALID_PARAMS, message=f"proposal {proposal_id} not found",
                           data={"uri": uri})
        return ReadResourceResult(contents=[TextResourceContents(
            uri=uri, text=receipt.wire(), mime_type="application/json")])

    async def subscribe(self, ctx: ServerRequestContext[Any, Any],
                        params: SubscribeRequestParams) -> EmptyResult:
        uri = params.uri
        principal = self._identity.current()
        connection = connection_of(ctx.session)
        if principal is None or not self._may_read(principal) or not await self._watch.add(
                uri, connection, principal, ctx.session.send_resource_updated):
            raise MCPError(code=INVALID_PARAMS, message=f"resource {uri} not found")
        # Forget the subscription when the connection closes (the SDK unwinds
        # this stack on disconnect): nothing else would, for a final proposal.
        connection.exit_stack.callback(self._watch.remove, uri, connection)
        return EmptyResult()

    async def unsubscribe(self, ctx: ServerRequestContext[Any, Any],
                          params: UnsubscribeRequestParams) -> EmptyResult:
        self._watch.remove(params.uri, connection_of(ctx.session))
        return EmptyResult()

    async def scope_listen(self, ctx: ServerRequestContext[Any, Any],
                           call_next: CallNext) -> HandlerResult:
        """Middleware: keep a listen stream's resource URIs to proposals the
        caller may see (it runs before the SDK validates the params)."""
        if ctx.method != "subscriptions/listen" or not isinstance(ctx.params, dict):
            return await call_next(ctx)
        notifications = ctx.params.get("notifications")
        uris = notifications.get("resourceSubscriptions") if isinstance(notifications,
                                                                       dict) else None
        if not isinstance(uris, list) or not uris:
            return await call_next(ctx)
        assert isinstance(notifications, dict)
        principal, key = self._identity.current(), object()
        allowed = [
            uri for uri in uris
            if isinstance(uri, str) and principal is not None and self._may_read(principal)
            and await self._watch.add(uri, key, principal, None)
        ]
        params = {**ctx.params,
                  "notifications": {**notifications, "resourceSubscriptions": allowed}}
        try:
            return await call_next(replace(ctx, params=params))
        finally:
            for uri in allowed:
                self._watch.remove(uri, key)
