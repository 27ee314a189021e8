"""Requester confirmation inside the MCP client, through elicitation.

When a pending proposal's decision says `confirm = "requester"` and the person
who proposed it is a human (kind user; never an agent acting alone), the
proposal tool asks that person, in their own client, whether to run it. An
accepted "confirm" is recorded by `ApprovalService.confirm_as_requester` as a
vote with `channel="elicitation"` and the proposal executes; a decline, a
cancel, an unticked box or a client without elicitation leaves the proposal
in the review queue, never approved and never rejected by this path (a
decline is noted in the proposal's lifecycle; a dismissed dialog is not).
A handshake-era call over stateless HTTP cannot be asked mid-call (no
channel back to the client): its receipt says so, and it waits likewise.

The question goes through the SDK's resolver (`resolve_arguments` with an
`Elicit` marker), which picks the transport the negotiated protocol has:
up to 2025-11-25 a mid-call `elicitation/create` request; from 2026-07-28 an
`InputRequiredResult` that the client answers by *retrying the tool call*.
A retry runs the tool body again, so the proposal must not be submitted
twice: the returned `request_state` wraps the resolver's own state with the
proposal id (the SDK seals it, so a client cannot forge it), and
`resume_confirmation`, called before submitting, picks the answer up for that
proposal. `submit_with_confirmation` does both around a submit. The SDK pins
each answer to the exact question text, so the question carries no relative
times; if the proposal changed between rounds, the person is simply asked
again about what it is now (and the vote names the digest they saw).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.elicitation import AcceptedElicitation, CancelledElicitation
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.resolve import Elicit, Resolve, build_resolver_plans, resolve_arguments
from mcp.shared.exceptions import MCPError
from mcp_types import InputRequiredResult, InputResponseRequestParams
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, Field

from signoff.policies import PrincipalFacts
from signoff.server.app import App
from signoff.server.errors import SignoffError
from signoff.server.services.receipts import Receipt
from signoff.server.services.review_views import ProposalView

STATE_PREFIX = "signoff.confirm:"

ConfirmOutcome = Receipt | InputRequiredResult


class Confirmation(BaseModel):
    """The one answer asked for: an explicit yes, not just a dismissed dialog."""

    confirm: bool = Field(
        title="Approve and execute it now",
        description="Tick to approve your proposal and execute it now. Leave it unticked, or "
                    "decline, to leave it in the review queue for a reviewer.")


def wants_confirmation(view: ProposalView, principal: PrincipalFacts) -> bool:
    """Ask only whom the rule would count: the human requester holding one of
    its approver roles (services.approvals.confirm_as_requester)."""
    return (view.status == "pending_approval" and view.decision.confirm == "requester"
            and principal.kind == "user" and view.proposer.kind == "user"
            and view.proposer.id == principal.id and view.tenant_id == principal.tenant
            and bool(set(principal.roles) & set(view.decision.approver_roles)))


def confirmation_message(view: ProposalView) -> str:
    """The essentials of `review show`, as plain text, stable between rounds."""
    d = view.decision
    lines = [
        "Confirm your proposal before it runs.",
        "",
        f"{view.command_type} on {view.aggregate_type}/{view.aggregate_id}"
        + (f" (version {view.expected_version})" if view.expected_version is not None else ""),
        "Payload: " + json.dumps(view.payload, sort_keys=True, ensure_ascii=False),
        f"Payload digest: {view.payload_digest}",
        f"Your rationale: {view.rationale or '-'}",
        f"Confidence: {view.confidence:.2f}",
    ]
    lines += [f"Evidence {e.ref}: {e.title if e.found else 'NOT FOUND'}" for e in view.evidence]
    lines.append(f"Policy: {d.effect} by rule {d.rule_id} (policy {d.policy_version}): "
                 f"{d.reason}. Your confirmation is enough; otherwise {d.approvers_required} "
                 f"approval(s) from {', '.join(d.approver_roles)}.")
    change = view.change
    if change is not None and change.outcome == "events":
        lines += [f"Approving commits {e.event_type}: "
                  + json.dumps(e.payload, sort_keys=True, ensure_ascii=False)
                  for e in change.events]
        lines += [f"  {c.field}: {json.dumps(c.before, default=str)} -> "
                  f"{json.dumps(c.after, default=str)}" for c in change.changes]
    elif change is not None:
        lines.append(f"Approving now would not commit anything: {change.outcome}: "
                     f"{change.reason}")
    if view.expires_at is not None:
        lines.append(f"Expires: {view.expires_at.strftime('%Y-%m-%d %H:%M UTC')}")
    lines += [f"Proposal {view.proposal_id}.", "",
              "Tick confirm to approve and execute it now; decline to leave it in the review "
              "queue."]
    return "\n".join(lines)


async def submit_with_confirmation(
    ctx: Context[Any, Any], app: App, principal: PrincipalFacts,
    submit: Callable[[], Awaitable[Receipt]],
) -> ConfirmOutcome:
    """Submit once, and ask the requester when the decision says so. Return
    an `InputRequiredResult` unchanged from the tool (the SDK sends it on)."""
    resumed = await resume_confirmation(ctx, app, principal)
    if resumed is not None:
        return resumed
    return await confirm_if_requested(ctx, app, principal, await submit())


async def confirm_if_requested(
    ctx: Context[Any, Any], app: App, principal: PrincipalFacts, receipt: Receipt,
) -> ConfirmOutcome:
    """After `submit`: ask the requester if this pending proposal wants it."""
    if receipt.status != "pending_approval" or receipt.proposal_id is None:
        return receipt
    view = await app.reviews.view(receipt.proposal_id, principal.tenant)
    if view is None or not wants_confirmation(view, principal):
        return receipt
    return await _ask(ctx, app, principal, view, receipt)


async def resume_confirmation(
    ctx: Context[Any, Any], app: App, principal: PrincipalFacts,
) -> ConfirmOutcome | None:
    """On a retried call (2026-07-28 protocol) that carries our question's
    answer: settle it for the proposal already recorded. None otherwise."""
    state = ctx.request_state
    if not state or not state.startswith(STATE_PREFIX):
        return None
    try:
        wrapped = json.loads(state[len(STATE_PREFIX):])
        proposal_id, inner = str(wrapped["proposal"]), str(wrapped["state"])
    except (ValueError, KeyError, TypeError):
        return None
    receipt = await app.proposals.receipt(principal, proposal_id)
    view = await app.reviews.view(proposal_id, principal.tenant)
    if receipt is None or view is None or view.proposer.id != principal.id:
        return None  # not this caller's: handle the call as a fresh one
    if not wants_confirmation(view, principal):
        return receipt  # decided meanwhile: report it, never submit again
    resolver_ctx: Context[Any, Any] = Context(
        request_context=ctx.request_context,
        input_params=InputResponseRequestParams(input_responses=ctx.input_responses,
                                                request_state=inner))
    return await _ask(resolver_ctx, app, principal, view, receipt)


async def _ask(
    ctx: Context[Any, Any], app: App, principal: PrincipalFacts, view: ProposalView,
    receipt: Receipt,
) -> ConfirmOutcome:
    message = confirmation_message(view)

    def ask_requester() -> Elicit[Confirmation]:
        return Elicit(message, Confirmation)

    params = {"answer": (Resolve(ask_requester), True)}
    try:
        resolved = await resolve_arguments(params, build_resolver_plans(params, set()), {}, ctx)
    except MCPError:  # no (form) elicitation: the client's, or the connection's
        return _waiting(receipt, _cannot_ask(ctx))
    except ToolError:  # an answer that does not fit the question counts as none
        return _waiting(receipt, "Your answer could not be read, so")
    if isinstance(resolved, InputRequiredResult):
        state = json.dumps({"proposal": view.proposal_id, "state": resolved.request_state})
        return resolved.model_copy(update={"request_state": STATE_PREFIX + state})
    answer = resolved["answer"]
    if isinstance(answer, CancelledElicitation):
        return _waiting(receipt, "You dismissed the question, so")
    accepted = isinstance(answer, AcceptedElicitation) and bool(answer.data.confirm)
    try:
        await app.approvals.confirm_as_requester(
            principal, view.proposal_id, accept=accepted, digest=view.payload_digest)
    except SignoffError as exc:  # decided, expired or changed while you were asked
        current = await app.proposals.receipt(principal, view.proposal_id)
        return (current or receipt).model_copy(update={
            "next": f"Your confirmation was not used: {exc.message}. "
                    + (current or receipt).next})
    current = await app.proposals.receipt(principal, view.proposal_id)
    if current is None:  # pragma: no cover - a proposal is never deleted
        return receipt
    return current if accepted else _waiting(current, "You did not confirm it, so")


def _cannot_ask(ctx: Context[Any, Any]) -> str:
    """Why nobody was asked. A handshake-era call over stateless HTTP has no
    channel for a question mid-call, whatever the client could show."""
    request = ctx.request_context
    if request.protocol_version not in MODERN_PROTOCOL_VERSIONS and \
            not request.session.can_send_request:
        return ("signoff serves HTTP statelessly and cannot ask you in the middle of a call "
                "(a 2026-07-28 client can be asked), so")
    return "Your MCP client cannot show confirmation requests, so"


def _waiting(receipt: Receipt, why: str) -> Receipt:
    return receipt.model_copy(update={
        "next": f"{why} it waits in the review queue for a reviewer. {receipt.next}"})
