"""The live queue: server-sent events that tell an open queue page to refresh.

Each stream reads its tenant's queue (one indexed query: ids, statuses and
update times under the page's filters) when a proposal is made or changes
(in any console or serve process, where the store can tell: `Store.changes`)
and every `poll_seconds` all the same, and sends a `queue` event carrying a
fingerprint whenever it differs; the page then fetches the table body
again. Nothing is pushed that the page could not fetch itself, so the stream
needs no authorization logic of its own beyond the reviewer check every page
makes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from signoff.server.console.auth import Reviewer, reviewer, still_valid, visit
from signoff.server.console.context import console_of
from signoff.server.services.review_views import STATUSES
from signoff.server.services.reviewing import QUEUE_LIMIT, ReviewService
from signoff.store.canonical import digest
from signoff.store.wakeups import rest


@dataclass(frozen=True)
class QueueFilter:
    tenant: str
    status: str = "pending_approval"  # one of STATUSES; "all" for any
    command: str | None = None

    @property
    def store_status(self) -> str | None:
        return None if self.status == "all" else self.status

    @property
    def query(self) -> str:
        return urlencode({"status": self.status, "command": self.command or ""})


async def queue_fingerprint(reviews: ReviewService, chosen: QueueFilter) -> str:
    rows = await reviews.queue(tenant=chosen.tenant, status=chosen.store_status,
                               command_type=chosen.command, limit=QUEUE_LIMIT)
    return digest([[p.proposal_id, p.status, p.votes, p.expires_at] for p in rows])[:16]


async def queue_events(request: Request) -> Response:
    who = await reviewer(request, fragment=True)
    if not isinstance(who, Reviewer):
        return who
    console = console_of(request)
    status = request.query_params.get("status", "pending_approval")
    command = request.query_params.get("command") or None
    chosen = QueueFilter(
        tenant=who.tenant, status=status if status in STATUSES else "pending_approval",
        command=command if command in console.reviews.command_types else None)

    session_id = (await visit(request)).session_id or ""

    async def changes() -> AsyncIterator[dict[str, str]]:
        last = None
        committed = console.changes()
        while not console.stopping.is_set():
            # The stream ends with access: signed out (in any console
            # process), idle too long, removed from the principals file.
            session = await console.sessions.find(session_id)
            record = await still_valid(console, session) if session else None
            if record is None or who.tenant not in record.tenants:
                return
            current = await queue_fingerprint(console.reviews, chosen)
            if current != last:
                yield {"event": "queue", "data": current}
                last = current
            await rest(committed, console.stopping, console.settings.poll_seconds)

    return EventSourceResponse(changes(), ping=15, shutdown_event=console.stopping)


def routes() -> list[Route]:
    return [Route("/queue/events", queue_events, methods=["GET"])]
