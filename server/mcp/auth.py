"""Bearer tokens for `signoff serve --transport http`, behind the SDK's
`TokenVerifier` hook.

Two kinds of token, either or both:

- Opaque tokens, stored only as sha256 digests. A principals-file entry's
  `token_sha256` names that principal in its only tenant (a principal of
  several tenants is ambiguous there and needs tokens-file entries). A tokens
  file (`--tokens PATH`) maps digests to a principal *and* a tenant; a server
  given one accepts its tokens only, never the principals file's:

      [[token]]
      sha256 = "<64 hex digits: sha256 of the token>"
      principal = "agent:triage"
      tenant = "acme"

- JWTs (PyJWT): signed HS256 (shared secret) or RS256 (public key), with the
  configured issuer, this server's URL as audience, an expiry, `sub` = the
  principal id and `tenant` (optional when the principal has one tenant).

Only principals whose record allows "http" (`transports`; by default agents
and users, not services) authenticate: a tokens-file entry for any other is
an error at load, a principals-file digest of one is ignored with a note, and
a JWT naming one is refused.

A verified token becomes an `AccessToken` whose subject is the principal and
whose `tenant` claim is the tenant; `identity.BearerIdentity` turns it into
facts per request. Anything else is None, which the SDK answers with 401.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jwt
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings

from signoff.policies import NotAMemberError, PrincipalRecord, Principals
from signoff.server.errors import SignoffError
from signoff.server.mcp.identity import TENANT_CLAIM

log = logging.getLogger("signoff.mcp.auth")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
TOKEN_KEYS = frozenset({"sha256", "principal", "tenant"})
MIN_HS256_SECRET_BYTES = 32  # RFC 7518 §3.2: at least the hash output size


class AuthConfigError(SignoffError):
    """A tokens file or JWT setting that cannot be used; the server does not start."""


@dataclass(frozen=True)
class TokenEntry:
    sha256: str
    principal: str
    tenant: str


@dataclass(frozen=True)
class JwtSettings:
    issuer: str
    audience: str
    algorithm: Literal["HS256", "RS256"]
    key: str | bytes
    leeway_seconds: int = 30

    @classmethod
    def load(
        cls, *, issuer: str, audience: str, secret_file: Path | None = None,
        secret: str | None = None, public_key_file: Path | None = None,
    ) -> JwtSettings:
        """Exactly one key source: an HS256 secret (file or value) or an RS256 PEM."""
        sources = [s for s in (secret_file, secret, public_key_file) if s]
        if len(sources) != 1:
            raise AuthConfigError(
                "JWT needs exactly one key: --jwt-secret-file / SIGNOFF_JWT_SECRET (HS256) "
                "or --jwt-public-key (RS256)")
        if public_key_file is not None:
            return cls(issuer, audience, "RS256", _read(public_key_file).encode())
        value = _read(secret_file).strip() if secret_file is not None else (secret or "")
        if len(value.encode()) < MIN_HS256_SECRET_BYTES:
            raise AuthConfigError(
                f"the HS256 secret must be at least {MIN_HS256_SECRET_BYTES} bytes")
        return cls(issuer, audience, "HS256", value.encode())


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AuthConfigError(f"cannot read {path}: {exc}") from None


def load_tokens(path: Path, principals: Principals) -> list[TokenEntry]:
    """The tokens file, checked against the principals: every problem names
    the file and the entry, and stops the server before it listens."""
    try:
        data = tomllib.loads(_read(path))
    except tomllib.TOMLDecodeError as exc:
        raise AuthConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(data) - {"token"}
    if unknown:
        raise AuthConfigError(f"{path}: unknown top-level key(s) {sorted(unknown)}; "
                              "expected [[token]] tables")
    tables = data.get("token", [])
    if not isinstance(tables, list):
        raise AuthConfigError(f"{path}: `token` must be an array of tables ([[token]])")
    entries: list[TokenEntry] = []
    for number, table in enumerate(tables, start=1):
        entries.append(_token_entry(path, number, table, principals))
    digests = [e.sha256 for e in entries]
    if len(set(digests)) != len(digests):
        raise AuthConfigError(f"{path}: the same token digest appears twice")
    return entries


def _token_entry(path: Path, number: int, table: Any, principals: Principals) -> TokenEntry:
    where = f"{path}: token #{number}"
    if not isinstance(table, dict):
        raise AuthConfigError(f"{where}: expected a table")
    if set(table) != TOKEN_KEYS:
        raise AuthConfigError(f"{where}: needs exactly the keys sha256, principal, tenant "
                              f"(got {sorted(table)})")
    if not all(isinstance(table[k], str) for k in TOKEN_KEYS):
        raise AuthConfigError(f"{where}: sha256, principal and tenant must be strings")
    entry = TokenEntry(sha256=table["sha256"], principal=table["principal"],
                       tenant=table["tenant"])
    if not _SHA256.match(entry.sha256):
        raise AuthConfigError(f"{where}: sha256 must be 64 lowercase hex digits")
    record = principals.get(entry.principal)
    if record is None:
        raise AuthConfigError(f"{where}: unknown principal {entry.principal!r}")
    if entry.tenant not in record.tenants:
        raise AuthConfigError(f"{where}: {entry.principal} is not a member of {entry.tenant!r}")
    if not record.may_connect("http"):
        raise AuthConfigError(f"{where}: {entry.principal} may not authenticate over HTTP "
                              f"(its transports: {_listing(record.transports)})")
    return entry


def principal_file_tokens(principals: Principals) -> tuple[list[TokenEntry], list[str]]:
    """Usable `token_sha256` entries of the principals file, and a note for
    each one that is not (a principal in several tenants)."""
    entries: list[TokenEntry] = []
    notes: list[str] = []
    for record in principals:
        if record.token_sha256 is None:
            continue
        if not record.may_connect("http"):
            notes.append(f"the principals-file token of {record.id} is ignored over HTTP: its "
                         f"transports are {_listing(record.transports)}")
        elif len(record.tenants) == 1:
            entries.append(TokenEntry(record.token_sha256, record.id, record.tenants[0]))
        else:
            notes.append(f"the principals-file token of {record.id} is ignored over HTTP: it is "
                         f"in several tenants ({', '.join(record.tenants)}); give it one token "
                         "per tenant in a --tokens file")
    return entries, notes


class SignoffTokenVerifier(TokenVerifier):
    """Opaque tokens first (constant-time digest comparison), then JWT."""

    def __init__(
        self, principals: Principals, tokens: Sequence[TokenEntry], jwt_settings: JwtSettings | None
    ) -> None:
        self._principals = principals
        self._tokens = tuple(tokens)
        self._jwt = jwt_settings

    async def verify_token(self, token: str) -> AccessToken | None:
        entry = self._opaque(token)
        if entry is not None:
            return self._access(entry.principal, entry.tenant, token, expires_at=None)
        if self._jwt is not None and token.count(".") == 2:
            return self._verify_jwt(token, self._jwt)
        return None

    def _opaque(self, token: str) -> TokenEntry | None:
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
        found = None
        for entry in self._tokens:  # no early exit: the time does not depend on the match
            if hmac.compare_digest(entry.sha256, digest):
                found = entry
        return found

    def _verify_jwt(self, token: str, settings: JwtSettings) -> AccessToken | None:
        try:
            claims = jwt.decode(
                token, settings.key, algorithms=[settings.algorithm],
                audience=settings.audience, issuer=settings.issuer,
                leeway=settings.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            log.info("bearer JWT refused: %s", exc)  # the reason, never the token
            return None
        subject, tenant = claims.get("sub"), claims.get(TENANT_CLAIM)
        record = self._principals.get(subject) if isinstance(subject, str) else None
        if record is None:
            log.info("bearer JWT refused: unknown principal %r", subject)
            return None
        tenant = _tenant_of(record, tenant)
        if tenant is None:
            log.info("bearer JWT refused: no usable tenant claim for %s", record.id)
            return None
        return self._access(record.id, tenant, token, expires_at=int(claims["exp"]))

    def _access(self, principal: str, tenant: str, token: str,
                expires_at: int | None) -> AccessToken | None:
        record = self._principals.get(principal)
        if record is None:
            return None
        if not record.may_connect("http"):
            log.info("bearer token refused: %s may not authenticate over HTTP", principal)
            return None
        try:
            record.facts(tenant)
        except NotAMemberError:
            return None
        return AccessToken(
            # Only a digest prefix is kept: the token itself stays with the client.
            token="sha256:" + hashlib.sha256(token.encode()).hexdigest()[:16],
            # The SDK binds a session to (client_id, issuer, subject): the
            # tenant is part of the client id so a token of the same principal
            # in another tenant can never join (or listen on) this session.
            client_id=f"{principal}@{tenant}", subject=principal, scopes=[],
            expires_at=expires_at,
            claims={TENANT_CLAIM: tenant},
        )


def _listing(items: Sequence[str]) -> str:
    return ", ".join(items) or "none"


def _tenant_of(record: PrincipalRecord, claimed: object) -> str | None:
    if claimed is None:
        return record.tenants[0] if len(record.tenants) == 1 else None
    if isinstance(claimed, str) and claimed in record.tenants:
        return claimed
    return None


@dataclass(frozen=True)
class HttpAuth:
    """What `MCPServer` needs to require bearer tokens, plus startup notes."""

    verifier: SignoffTokenVerifier
    settings: AuthSettings
    notes: tuple[str, ...]
    token_count: int
    # How many of them are the principals file's `token_sha256` (a demo
    # file's are public: `demo_credentials.demo_warning`).
    principal_file_tokens: int = 0


def http_auth(
    principals: Principals, *, server_url: str, tokens_file: Path | None = None,
    jwt_settings: JwtSettings | None = None,
) -> HttpAuth:
    if tokens_file is not None:
        entries, from_file = load_tokens(tokens_file, principals), 0
        notes = [f"the token_sha256 entries of {principals.source} are not accepted over HTTP: "
                 f"{tokens_file} names this server's tokens"] if any(
                     r.token_sha256 for r in principals) else []
    else:
        entries, notes = principal_file_tokens(principals)
        from_file = len(entries)
    if not entries and jwt_settings is None:
        notes.append("no bearer tokens are configured: every HTTP request will get 401")
    settings = AuthSettings(
        issuer_url=jwt_settings.issuer if jwt_settings else server_url,
        # Protected-resource metadata only when there is a real issuer to point at.
        resource_server_url=server_url if jwt_settings else None,
        # The JWT verifier checks the audience itself.
        validate_token_resource=False,
    )
    return HttpAuth(SignoffTokenVerifier(principals, entries, jwt_settings), settings,
                    tuple(notes), len(entries), principal_file_tokens=from_file)
