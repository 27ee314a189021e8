"""`signoff review list|show|approve|reject`.

The CLI is an operator's tool on the database file: `--as` names the reviewer
(trusted as given unless the principals file asks for the reviewer's token:
see `reviewer`), who must be a member of the proposal's tenant (otherwise the
proposal is "not found", exactly as for another tenant's id); every other
rule — no agents, not the proposer, a required role, one vote each, pending
and unexpired, the digest shown — is the approval service's, so CLI and
console cannot disagree. Votes cast here record `channel="cli"`, or "api"
when the reviewer's token authenticated them.

Domain, policy, principals and gateway must be the ones the server runs
with (an approval executes here, and the executor re-judges under the policy
it has; a proposal is shown through its command, which its domain or
gateway registers): every command resolves them the same way, from a flag,
the environment or `signoff.toml` (see `settings`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, NoReturn, TypeVar

import anyio
import typer

from signoff.policies import PrincipalFacts
from signoff.server.app import App
from signoff.server.cli.common import JsonOption, err, escape, json_lines, open_app, out
from signoff.server.cli.review_call import with_preview
from signoff.server.cli.review_print import dumps, print_queue, print_view
from signoff.server.cli.reviewer import TRUST, AsOption, TokenOption, reviewer
from signoff.server.cli.settings import (
    CliSettings,
    DbFlag,
    DomainFlag,
    GatewayFlag,
    PolicyFlag,
    PrincipalsFlag,
    settings_of,
)
from signoff.server.errors import NotFound, SignoffError
from signoff.server.services.approvals import VoteResult
from signoff.server.services.receipts import EventView
from signoff.server.services.review_views import STATUSES, ProposalView
from signoff.store.records import VoteChannel

T = TypeVar("T")
# Where an approval can leave a proposal when the executor does not commit it.
NOT_EXECUTED = frozenset({"conflict", "failed", "rejected"})

review_app = typer.Typer(
    help=f"The approval queue: list, show, approve, reject.\n\n{TRUST}", no_args_is_help=True)

DigestOption = Annotated[str | None, typer.Option(
    "--digest",
    help="The payload digest you reviewed (from `review show`); refused if it changed.")]
IdArgument = Annotated[str, typer.Argument(help="The proposal id.", show_default=False)]


def run_on_app(settings: CliSettings, job: Callable[[App], Awaitable[T]]) -> T:
    async def main() -> T:
        async with open_app(settings) as app:
            return await job(app)

    return anyio.run(main)


def _refuse(error: SignoffError, as_json: bool, code: int = 1) -> NoReturn:
    if as_json:
        json_lines([{"ok": False, "error": error.code, "message": error.message}])
    else:
        err.print(f"[red]refused:[/red] {escape(error.message)}")
    raise typer.Exit(code)


@review_app.command("list")
def list_proposals(
    status: Annotated[str, typer.Option(
        help="pending_approval (default), approved, executed, rejected, expired, conflict, "
             "failed, or all.")] = "pending_approval",
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    command: Annotated[str | None, typer.Option(help="Only this command type.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 200,
    db: DbFlag = None, domain: DomainFlag = None, policy: PolicyFlag = None,
    principals: PrincipalsFlag = None, gateway: GatewayFlag = None, as_json: JsonOption = False,
) -> None:
    """The approval queue, oldest first, with age and expiry."""
    if status not in STATUSES:
        raise typer.BadParameter(f"one of {', '.join(STATUSES)}", param_hint="--status")
    settings = settings_of(db=db, domain=domain, policy=policy, principals=principals,
                           gateway=gateway)
    items = run_on_app(settings, lambda app: app.reviews.queue(
        tenant=tenant, status=None if status == "all" else status, command_type=command,
        limit=limit))
    if as_json:
        json_lines(items)
        return
    print_queue(items, with_status=status != "pending_approval")
    out.print(f"{len(items)} proposal(s)")


@review_app.command("show")
def show(
    proposal_id: IdArgument, db: DbFlag = None, domain: DomainFlag = None,
    policy: PolicyFlag = None, principals: PrincipalsFlag = None, gateway: GatewayFlag = None,
    as_json: JsonOption = False,
) -> None:
    """One proposal as a reviewer needs it, with what approving would change."""
    settings = settings_of(db=db, domain=domain, policy=policy, principals=principals,
                           gateway=gateway)
    async def shown(app: App) -> ProposalView | None:
        return await with_preview(app, await app.reviews.view(proposal_id, None))

    view = run_on_app(settings, shown)
    if view is None:
        _refuse(NotFound(f"proposal {proposal_id} not found"), as_json)
    if as_json:
        json_lines([view])
        return
    print_view(view)


def _report(result: VoteResult, as_json: bool) -> None:
    """The vote and where it left the proposal; exit 1 when an approval
    did not execute (the vote stands, the change was not made)."""
    p, vote = result.proposal, result.vote
    events = [EventView.of(e) for e in result.execution.events] if result.execution else []
    failed = vote.verdict == "approve" and p.status in NOT_EXECUTED
    if as_json:
        outcome = {"ok": False, "error": p.status, "message": p.status_reason} if failed \
            else {"ok": True}
        json_lines([{
            **outcome, "proposal_id": p.proposal_id, "verdict": vote.verdict,
            "voter_id": vote.voter_id, "voter_roles": list(vote.voter_roles),
            "channel": vote.channel,
            "status": p.status, "status_reason": p.status_reason,
            "still_needed": result.still_needed,
            "events": [e.model_dump(mode="json") for e in events],
        }])
        if failed:
            raise typer.Exit(1)
        return
    out.print(f"{vote.verdict} by {escape(vote.voter_id)} recorded; {escape(p.proposal_id)} is "
              f"now {p.status}" + (f" ({escape(p.status_reason)})" if p.status_reason else ""))
    if p.status == "pending_approval":
        out.print(f"still needed: {escape(result.still_needed)}")
    for e in events:
        out.print(f"  committed #{e.position} {escape(e.event_type)} {dumps(e.payload)}")
    if failed:
        err.print(f"[red]not executed:[/red] the approval ended in {p.status}")
        raise typer.Exit(1)


Cast = Callable[[App, PrincipalFacts, VoteChannel], Awaitable[VoteResult]]


def _vote(
    settings: CliSettings, proposal_id: str, who: str, token: str | None, as_json: bool,
    cast: Cast,
) -> None:
    async def job(app: App) -> VoteResult:
        voter, channel = await reviewer(app, proposal_id, who, token)
        # The CLI is the operator's tool: it sweeps overdue proposals first,
        # as serve and the console do on a timer.
        await app.approvals.expire_due()
        return await cast(app, voter, channel)

    try:
        result = run_on_app(settings, job)
    except SignoffError as error:
        _refuse(error, as_json)
    _report(result, as_json)


@review_app.command("approve", help=f"""Vote to approve; the proposal executes when the
quorum is reached (exit 1 if it then ends in conflict, rejected or failed).\n\n{TRUST}""")
def approve(
    proposal_id: IdArgument, who: AsOption,
    comment: Annotated[str, typer.Option(help="A note kept with the vote.")] = "",
    digest: DigestOption = None, token: TokenOption = None, db: DbFlag = None,
    domain: DomainFlag = None, policy: PolicyFlag = None, principals: PrincipalsFlag = None,
    gateway: GatewayFlag = None, as_json: JsonOption = False,
) -> None:
    settings = settings_of(db=db, domain=domain, policy=policy, principals=principals,
                           gateway=gateway)
    _vote(settings, proposal_id, who, token, as_json,
          lambda app, voter, channel: app.approvals.approve(
              voter, proposal_id, digest=digest, channel=channel, comment=comment))


@review_app.command("reject", help=f"""Reject the proposal (a reason is required);
nothing is executed.\n\n{TRUST}""")
def reject(
    proposal_id: IdArgument, who: AsOption,
    reason: Annotated[str, typer.Option(help="Why (required; the proposer reads it).")],
    digest: DigestOption = None, token: TokenOption = None, db: DbFlag = None,
    domain: DomainFlag = None, policy: PolicyFlag = None, principals: PrincipalsFlag = None,
    gateway: GatewayFlag = None, as_json: JsonOption = False,
) -> None:
    settings = settings_of(db=db, domain=domain, policy=policy, principals=principals,
                           gateway=gateway)
    _vote(settings, proposal_id, who, token, as_json,
          lambda app, voter, channel: app.approvals.reject(
              voter, proposal_id, reason=reason, digest=digest, channel=channel))
