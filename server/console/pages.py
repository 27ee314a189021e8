"""The console's pages: the queue, a proposal, its trace, the two votes, and
settling an upstream call whose outcome is unknown.

GETs only read. A vote is a POST carrying the session's CSRF token and the
payload digest of the proposal as the page displayed it (mandatory here), so
a proposal that changed after the page was opened cannot be approved from it.
Settling is a POST with the CSRF token, an outcome and a reason; who may
settle is the resolutions service's rule, as for `signoff review resolve`.
Another tenant's proposal is a 404, the same answer as an unknown id.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from signoff.server.console.auth import Reviewer, check_csrf, flash, page, reviewer
from signoff.server.console.context import console_of, render
from signoff.server.console.events import QueueFilter, queue_fingerprint
from signoff.server.errors import NotFound, SignoffError
from signoff.server.gateway import RESOLUTIONS
from signoff.server.services.approvals import VoteResult
from signoff.server.services.review_views import STATUSES

MAX_NOTE = 2000


def _filter(request: Request, who: Reviewer) -> QueueFilter:
    status = request.query_params.get("status", "pending_approval")
    command = request.query_params.get("command") or None
    known = console_of(request).reviews.command_types
    return QueueFilter(
        tenant=who.tenant,
        status=status if status in STATUSES else "pending_approval",
        command=command if command in known else None,
    )


async def home(request: Request) -> Response:
    return RedirectResponse("/queue", status_code=303)


async def queue(request: Request) -> Response:
    who = await reviewer(request)
    if not isinstance(who, Reviewer):
        return who
    reviews = console_of(request).reviews
    chosen = _filter(request, who)
    items = await reviews.queue(tenant=who.tenant, status=chosen.store_status,
                          command_type=chosen.command)
    return await page(request, "queue.html", {
        "reviewer": who, "items": items, "filter": chosen, "statuses": STATUSES,
        "commands": reviews.command_types,
        "fingerprint": await queue_fingerprint(reviews, chosen), "query": chosen.query,
    })


async def queue_rows(request: Request) -> Response:
    """The table body alone, for the live refresh."""
    who = await reviewer(request, fragment=True)
    if not isinstance(who, Reviewer):
        return who
    reviews = console_of(request).reviews
    chosen = _filter(request, who)
    items = await reviews.queue(tenant=who.tenant, status=chosen.store_status,
                          command_type=chosen.command)
    return render(request, "_queue_rows.html", {"items": items}, 200)


async def proposal(request: Request) -> Response:
    who = await reviewer(request)
    if not isinstance(who, Reviewer):
        return who
    view = await console_of(request).reviews.view(request.path_params["id"], who.tenant)
    if view is None:
        raise HTTPException(404, "no such proposal")
    return await page(request, "proposal.html", {"reviewer": who, "p": view})


async def trace(request: Request) -> Response:
    who = await reviewer(request)
    if not isinstance(who, Reviewer):
        return who
    proposal_id = request.path_params["id"]
    found = await console_of(request).trace(proposal_id, who.tenant)
    if found is None:
        raise HTTPException(404, "no such proposal")
    return await page(request, "trace.html", {"reviewer": who, "proposal_id": proposal_id,
                                        "entries": found.steps})


def _text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    if not isinstance(value, str) or len(value) > MAX_NOTE:
        raise HTTPException(400, f"{name} must be text of at most {MAX_NOTE} characters")
    return value.strip()


async def _vote(request: Request, verdict: str) -> Response:
    # The CSRF check comes first: a forged POST is refused (403) whether or
    # not the browser sent the session cookie along.
    form = await request.form(max_files=0, max_fields=8)
    await check_csrf(request, form)
    who = await reviewer(request)
    if not isinstance(who, Reviewer):
        return who
    proposal_id = request.path_params["id"]
    digest = form.get("digest")
    if not isinstance(digest, str) or not digest:
        raise HTTPException(400, "the vote must carry the digest of the proposal as displayed")
    approvals = console_of(request).approvals
    try:
        result: VoteResult
        if verdict == "approve":
            result = await approvals.approve(who.facts, proposal_id, digest=digest,
                                             channel="console", comment=_text(form, "comment"))
        else:
            result = await approvals.reject(who.facts, proposal_id, reason=_text(form, "reason"),
                                            digest=digest, channel="console")
    except NotFound as exc:
        raise HTTPException(404, "no such proposal") from exc
    except SignoffError as exc:
        await flash(request, "error", f"Refused: {exc.message}")
    else:
        status = result.proposal.status
        note = f"; still needed: {result.still_needed}" if status == "pending_approval" else ""
        await flash(request, "ok", f"Your {verdict} was recorded. The proposal is {status}{note}.")
    return RedirectResponse(f"/proposals/{quote(proposal_id, safe='')}", status_code=303)


async def approve(request: Request) -> Response:
    return await _vote(request, "approve")


async def reject(request: Request) -> Response:
    return await _vote(request, "reject")


async def resolve(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=8)
    await check_csrf(request, form)  # first, as for a vote
    who = await reviewer(request)
    if not isinstance(who, Reviewer):
        return who
    proposal_id = request.path_params["id"]
    outcome = next((o for o in RESOLUTIONS if o == form.get("outcome")), None)
    if outcome is None:
        raise HTTPException(400, f"the outcome must be one of {', '.join(RESOLUTIONS)}")
    try:
        settled = await console_of(request).resolutions.resolve(
            who.facts, proposal_id, outcome, _text(form, "reason"))
    except NotFound as exc:
        raise HTTPException(404, "no such proposal") from exc
    except SignoffError as exc:
        await flash(request, "error", f"Refused: {exc.message}")
    else:
        await flash(request, "ok", f"Settled as {outcome}. The proposal is {settled.status}.")
    return RedirectResponse(f"/proposals/{quote(proposal_id, safe='')}", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/queue", queue, methods=["GET"]),
        Route("/queue/rows", queue_rows, methods=["GET"]),
        Route("/proposals/{id}", proposal, methods=["GET"]),
        Route("/proposals/{id}/trace", trace, methods=["GET"]),
        Route("/proposals/{id}/approve", approve, methods=["POST"]),
        Route("/proposals/{id}/reject", reject, methods=["POST"]),
        Route("/proposals/{id}/resolve", resolve, methods=["POST"]),
    ]
