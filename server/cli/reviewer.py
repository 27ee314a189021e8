"""Who a vote cast from the CLI is, and how that is known.

Direct database access is operator access: whoever can open the database
file can write to it, so `--as` on its own authenticates nobody. It names
the reviewer an operator vouches for, and the vote records channel "cli".
A principals file with `cli_votes = "token"` makes the CLI ask for the
reviewer's own token as well (`--token` or $SIGNOFF_REVIEWER_TOKEN, checked
against that principal's `token_sha256`); a vote so authenticated records
channel "api": cast with the principal's own credential, as over HTTP. A
token given where none is required is checked all the same. This guards
the CLI's path to a vote, not the file: docs/reviewing.md says what each
channel vouches for.
"""

from __future__ import annotations

from typing import Annotated

import typer

from signoff.policies import PrincipalFacts, PrincipalRecord, Principals
from signoff.server.app import App
from signoff.server.errors import NotFound, SignoffError
from signoff.store.records import VoteChannel

REVIEWER_ENV = "SIGNOFF_REVIEWER_TOKEN"
TRUST = ("Direct database access is operator access: --as is trusted as given, unless the "
         f'principals file sets cli_votes = "token"; then the reviewer\'s own token is '
         f"required (--token or ${REVIEWER_ENV}). See docs/reviewing.md.")

AsOption = Annotated[str, typer.Option(
    "--as", help="The reviewer's principal id, e.g. user:alice (trusted as given: operator "
                 'access, unless the principals file sets cli_votes = "token").')]
TokenOption = Annotated[str | None, typer.Option(
    "--token", envvar=REVIEWER_ENV, show_default=False,
    help="The reviewer's own token; required where the principals file sets "
         'cli_votes = "token", checked whenever given. Prefer the environment variable: '
         "a command line is visible to other users.")]


class Unauthenticated(SignoffError):
    code = "unauthenticated"


def channel_for(principals: Principals, record: PrincipalRecord,
                token: str | None) -> VoteChannel:
    """How this vote is authenticated, or Unauthenticated when it is not
    and must be."""
    if token:
        if not record.has_token(token):
            raise Unauthenticated(f"the token does not authenticate {record.id}")
        return "api"
    if principals.cli_votes == "token":
        raise Unauthenticated(
            f'{principals.source} sets cli_votes = "token": a CLI vote needs the reviewer\'s '
            f"token (--token or ${REVIEWER_ENV})")
    return "cli"


async def reviewer(app: App, proposal_id: str, who: str,
                   token: str | None) -> tuple[PrincipalFacts, VoteChannel]:
    """`--as` acting in the proposal's tenant, authenticated first (nothing
    about the proposal is looked up for someone who is not); not a member of
    its tenant = not found."""
    record = app.principals.get(who)
    if record is None:
        raise typer.BadParameter(f"no principal {who!r} in {app.principals.source}",
                                 param_hint="--as")
    channel = channel_for(app.principals, record, token)
    proposal = await app.store.read(lambda uow: uow.proposals.get(proposal_id, None))
    if proposal is None or proposal.tenant_id not in record.tenants:
        raise NotFound(f"proposal {proposal_id} not found")
    return record.facts(proposal.tenant_id), channel
