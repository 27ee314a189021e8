"""Who is calling: the principal of the request being handled.

Identity comes from the transport, never from tool arguments or free-form
headers. On stdio the launcher names one principal and tenant for the whole
process (`--principal/--tenant`); over HTTP each request carries a bearer
token, which `mcp_auth` has already verified and turned into an
`AccessToken` whose subject is the principal id and whose `tenant` claim is
the tenant. Facts (kind, roles) are looked up in the principals file at
request time, so a token never carries authority of its own. A principal is
the caller only over a transport its record allows (`transports`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from mcp.server.auth.middleware.auth_context import get_access_token

from signoff.policies import NotAMemberError, PrincipalFacts, Principals
from signoff.server.errors import SignoffError

TENANT_CLAIM = "tenant"


class IdentityError(SignoffError):
    """The configured caller cannot act: unknown principal, wrong tenant."""

    code = "identity"


class Identity(Protocol):
    def current(self) -> PrincipalFacts | None:
        """The caller of the request being handled; None when there is none
        (the request is then refused)."""
        ...


@dataclass(frozen=True)
class FixedIdentity:
    """stdio (and in-process clients): one caller for the whole connection."""

    principal: PrincipalFacts

    def current(self) -> PrincipalFacts | None:
        return self.principal


class BearerIdentity:
    """HTTP: the caller named by the verified bearer token of this request.

    The SDK's auth middleware keeps the verified token in a context variable
    that follows the request into the handler task; we re-resolve the
    principal on every request against the principals file (re-read when
    it changes, checked at most once a second), so a principal removed from
    it, or no longer a member of the tenant, loses access within a second."""

    def __init__(self, principals: Principals) -> None:
        self._principals = principals

    def current(self) -> PrincipalFacts | None:
        token = get_access_token()
        if token is None or token.subject is None:
            return None
        tenant = (token.claims or {}).get(TENANT_CLAIM)
        record = self._principals.get(token.subject)
        if record is None or not isinstance(tenant, str) or not record.may_connect("http"):
            return None
        try:
            return record.facts(tenant)
        except NotAMemberError:
            return None


def resolve_principal(
    principals: Principals, principal_id: str | None, tenant: str | None
) -> PrincipalFacts:
    """The stdio caller, checked before the server starts: a typo must stop
    the launch, not yield a server that refuses every call."""
    if not principal_id:
        raise IdentityError(
            "no principal: pass --principal ID (or set SIGNOFF_PRINCIPAL) to name the caller"
        )
    record = principals.get(principal_id)
    if record is None:
        known = ", ".join(sorted(r.id for r in principals)) or "none"
        raise IdentityError(
            f"unknown principal {principal_id!r}: it is not in {principals.source} "
            f"(known: {known})"
        )
    if not record.may_connect("stdio"):
        raise IdentityError(
            f"principal {principal_id!r} may not connect over stdio (its transports: "
            f"{_listing(record.transports)}; set `transports` in {principals.source})"
        )
    if not tenant:
        if len(record.tenants) != 1:
            raise IdentityError(
                f"principal {principal_id!r} belongs to several tenants "
                f"({_listing(record.tenants)}): pass --tenant (or set SIGNOFF_TENANT)"
            )
        tenant = record.tenants[0]
    try:
        return record.facts(tenant)
    except NotAMemberError:
        raise IdentityError(
            f"principal {principal_id!r} is not a member of tenant {tenant!r} "
            f"(its tenants: {_listing(record.tenants)})"
        ) from None


def _listing(items: Sequence[str]) -> str:
    return ", ".join(items) or "none"
