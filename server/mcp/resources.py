"""The proposal resource `signoff://proposals/{id}` and its subscriptions.

The resource mirrors get_proposal (same receipt, same tenant scoping). A
client may subscribe to it - `resources/subscribe` on handshake-era
connections, `subscriptions/listen` on 2026-07-28 ones - and is told
`notifications/resources/updated` when the proposal's status changes.

How changes are noticed: proposals are decided by people in other processes
(the review CLI, the web console) as often as in this one, so the watcher
polls the status of subscribed proposals (one read transaction every
`interval`, default 2 s, only while there are subscriptions). That covers
in-process changes too (the expiry sweep, an approval made in the demo) at
the same latency, with one mechanism instead of two.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus

from signoff.policies import PrincipalFacts
from signoff.server.app import App
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
        while True:
            await anyio.sleep(self._interval)
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
