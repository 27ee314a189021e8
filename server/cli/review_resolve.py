"""`signoff review resolve`: settle an upstream call whose outcome is unknown
(a gateway call, or a domain's own outside call such as the assistant's
`call_api`: see `Resolutions`).

A gateway call left `outcome_unknown` (signoff stopped mid-call, the
upstream timed out, the connection was lost after the request went out) is
never made again on its own. Someone the proposal's rule accepts as an
approver says what happened — `succeeded` or `failed` — after looking at
the upstream, or asks for one more attempt (`retry`, which the relay running
the invoker then makes). Who may settle it is the `Resolutions` service's
rule, so the CLI and the console cannot disagree; `--as` and `--token` are
trusted exactly as for a vote (see `reviewer`).
"""

from __future__ import annotations

from typing import Annotated

import typer

from signoff.server.app import App
from signoff.server.cli.common import JsonOption, err, escape, json_lines, out
from signoff.server.cli.review import IdArgument, run_on_app
from signoff.server.cli.reviewer import TRUST, AsOption, TokenOption, reviewer
from signoff.server.cli.settings import (
    DbFlag,
    DomainFlag,
    GatewayFlag,
    PolicyFlag,
    PrincipalsFlag,
    settings_of,
)
from signoff.server.errors import SignoffError
from signoff.server.gateway import Resolution
from signoff.store.records import ProposalRecord

OutcomeOption = Annotated[Resolution, typer.Option(
    "--outcome", help="succeeded or failed (what you found happened upstream), or retry "
                      "(one more attempt, made by the relay that runs the gateway).")]
ReasonOption = Annotated[str, typer.Option(
    "--reason", help="Why (required; kept with the settlement).")]

HELP = f"""Settle an upstream call whose outcome is unknown: succeeded, failed, or
retry (exit 1 with the reason when refused; nothing is written then).\n\n{TRUST}"""


def resolve(
    proposal_id: IdArgument, who: AsOption, outcome: OutcomeOption,
    reason: ReasonOption, token: TokenOption = None, db: DbFlag = None,
    domain: DomainFlag = None, policy: PolicyFlag = None, principals: PrincipalsFlag = None,
    gateway: GatewayFlag = None, as_json: JsonOption = False,
) -> None:
    async def job(app: App) -> ProposalRecord:
        person, _channel = await reviewer(app, proposal_id, who, token)
        return await app.resolutions.resolve(person, proposal_id, outcome, reason)

    settings = settings_of(db=db, domain=domain, policy=policy, principals=principals,
                           gateway=gateway)
    try:
        settled = run_on_app(settings, job)
    except SignoffError as error:
        if as_json:
            json_lines([{"ok": False, "error": error.code, "message": error.message}])
        else:
            err.print(f"[red]refused:[/red] {escape(error.message)}")
        raise typer.Exit(1) from None
    if as_json:
        line = {"ok": True, "proposal_id": proposal_id, "outcome": outcome, "by": who,
                "status": settled.status, "status_reason": settled.status_reason}
        if settled.proposal_id != proposal_id:  # the domain's settling proposal
            line["settled_by"] = settled.proposal_id
        json_lines([line])
        return
    # A domain's own call is settled by a proposal of its own (Resolutions).
    by = "" if settled.proposal_id == proposal_id else f" (proposal {settled.proposal_id})"
    relay = "the relay" if by else "the relay running the gateway"
    again = f"; {relay} makes one more attempt" if outcome == "retry" else ""
    out.print(f"{escape(proposal_id)} settled as {outcome} by {escape(who)}{escape(by)}; it "
              f"is now {settled.status}{again}")
