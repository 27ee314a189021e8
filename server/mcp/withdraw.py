"""The `withdraw_proposal` tool: a proposer takes back its own proposal.

The one tool besides the command tools that changes state, and it only ever
ends a proposal its caller made, before anyone approved it
(`services.withdrawal`). Anyone who may propose may call it; whose proposal
it is decides the rest. Its answer is the proposal's receipt: `withdrawn`
when it worked (again `withdrawn`, unchanged, when called twice), else the
receipt as it stands with outcome `rejected` and the reason.
"""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp_types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from signoff.policies import PrincipalFacts
from signoff.server.app import App
from signoff.server.errors import NotFound, SignoffError
from signoff.server.mcp.tools import Answer, ToolSpec, error_result, receipt_result
from signoff.server.services.lifecycle import Lifecycle
from signoff.server.services.proposals import CallContext, problems_of
from signoff.server.services.receipts import Receipt
from signoff.server.services.withdrawal import MAX_REASON, WithdrawalService

WITHDRAW_PROPOSAL = "withdraw_proposal"
DESCRIPTION = (
    "Withdraw a proposal you made that is still waiting for approval and that nobody has "
    "approved yet: it is then final (status withdrawn) and never executed. Use it when you "
    "proposed something by mistake or it is no longer needed; it cannot undo an approval or "
    "an execution. Only the proposer can withdraw. The answer is the proposal's receipt."
)
# Not read-only: it ends a proposal. Idempotent: withdrawing again changes nothing.
ANNOTATIONS = ToolAnnotations(read_only_hint=False, destructive_hint=False,
                              idempotent_hint=True, open_world_hint=False)


class WithdrawProposalArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    proposal_id: Annotated[str, Field(
        min_length=1, max_length=128, description="The proposal_id from your receipt.")]
    reason: Annotated[str, Field(
        default="", max_length=MAX_REASON,
        description="Optional: why you withdraw it, for the reviewers' record.")]


def withdrawals(app: App) -> WithdrawalService:
    return WithdrawalService(app.store, Lifecycle(app.clock, app.ids), app.clock)


async def _withdraw(app: App, principal: PrincipalFacts, arguments: dict[str, Any],
                    call: CallContext, ctx: Context[Any, Any]) -> Answer:
    try:
        args = WithdrawProposalArgs.model_validate(arguments)
    except ValidationError as exc:
        problems = "; ".join(f"{p.field}: {p.problem}" for p in problems_of(exc))
        return Answer(error_result(f"invalid arguments: {problems}"), "validation_error")
    try:
        await withdrawals(app).withdraw(principal, args.proposal_id, reason=args.reason)
    except NotFound as exc:
        return Answer(error_result(exc.message), "not_found")
    except SignoffError as exc:  # someone else's, decided, approved or expired
        current = await app.proposals.receipt(principal, args.proposal_id)
        if current is None:  # pragma: no cover - it was found a moment ago
            return Answer(error_result(exc.message), exc.code)
        return Answer(receipt_result(current.model_copy(update={
            "outcome": "rejected", "reason": f"not withdrawn: {exc.message}",
            "next": f"Nothing changed. {current.next}"})), exc.code, args.proposal_id)
    receipt = await app.proposals.receipt(principal, args.proposal_id)
    assert receipt is not None, "a proposal just withdrawn is there to read"
    return Answer(receipt_result(receipt.model_copy(update={"outcome": "accepted"})),
                  "accepted", args.proposal_id)


def _may_withdraw(app: App, principal: PrincipalFacts) -> bool:
    """Whoever may propose something may withdraw what they proposed."""
    gate = app.gate()
    return any(gate.may_propose(principal, command.name) for command in app.commands)


def withdraw_spec() -> ToolSpec:
    return ToolSpec(WITHDRAW_PROPOSAL, "command", DESCRIPTION, WithdrawProposalArgs, Receipt,
                    ANNOTATIONS, _may_withdraw, _withdraw)
