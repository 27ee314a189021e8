"""Who exists: the principals file that maps ids (and bearer tokens) to facts.

Pure like the rest of the package: it parses a file; the transport decides who
is calling. Tokens are stored only as sha256 digests, so the file can be read
without revealing a credential, and lookups compare digests in constant time.

A top-level `cli_votes` says who a `signoff review approve/reject` vote is:
"operator" (the default: direct database access is operator access, `--as`
is trusted) or "token" (the reviewer's own token is required).

A principal's `transports` says how it may reach the MCP server: "stdio"
(named by `serve --principal`) and/or "http" (a bearer token or JWT). By
default agents and users may use both and services neither: a service runs
inside signoff (the outbox's consumers) and never calls MCP.

A top-level `demo = true` marks the file as a demo's: its token digests are of
public tokens, so a server accepts its principals only as a demo.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from signoff.policies.clauses import KINDS
from signoff.policies.errors import NotAMemberError, PrincipalsLoadError, Problem
from signoff.policies.model import PrincipalFacts, PrincipalKind
from signoff.policies.toml_checks import Reporter, describe, read_toml

log = logging.getLogger("signoff.principals")

PRINCIPAL_KEYS = ("id", "kind", "tenants", "roles", "token_sha256", "display_name",
                  "transports")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
CliVotes = Literal["operator", "token"]
CLI_VOTES: tuple[CliVotes, ...] = ("operator", "token")
Transport = Literal["stdio", "http"]
TRANSPORTS: tuple[Transport, ...] = ("stdio", "http")
DEFAULT_TRANSPORTS: dict[PrincipalKind, tuple[Transport, ...]] = {
    "agent": TRANSPORTS, "user": TRANSPORTS, "service": (),
}


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class PrincipalRecord:
    id: str
    kind: PrincipalKind
    tenants: tuple[str, ...]
    roles: tuple[str, ...] = ()
    token_sha256: str | None = None
    display_name: str | None = None
    # None: the default of its kind (DEFAULT_TRANSPORTS).
    declared_transports: tuple[Transport, ...] | None = None

    @property
    def transports(self) -> tuple[Transport, ...]:
        if self.declared_transports is not None:
            return self.declared_transports
        return DEFAULT_TRANSPORTS[self.kind]

    def may_connect(self, transport: Transport) -> bool:
        """Whether this principal may be the caller on `transport`."""
        return transport in self.transports

    def facts(self, tenant: str) -> PrincipalFacts:
        """The principal acting in `tenant`; raises NotAMemberError otherwise."""
        if tenant not in self.tenants:
            raise NotAMemberError(f"principal {self.id!r} is not a member of tenant {tenant!r}")
        return PrincipalFacts(id=self.id, kind=self.kind, tenant=tenant, roles=self.roles)

    def has_token(self, token: str) -> bool:
        """Whether `token` is this principal's (constant time in the digest)."""
        return self.token_sha256 is not None and hmac.compare_digest(
            self.token_sha256, token_digest(token))


class Principals:
    """The loaded principals, by id and by token digest."""

    def __init__(self, records: tuple[PrincipalRecord, ...], source: str = "<string>",
                 *, cli_votes: CliVotes = "operator", demo: bool = False) -> None:
        self.source = source
        self._cli_votes = cli_votes
        self._demo = demo
        self._by_id = {r.id: r for r in records}
        self._tokens = tuple((r.token_sha256, r) for r in records if r.token_sha256)

    @property
    def cli_votes(self) -> CliVotes:
        return self._cli_votes

    @property
    def demo(self) -> bool:
        """The file says it is a demo's (`demo = true`): its tokens are public."""
        return self._demo

    def get(self, principal_id: str) -> PrincipalRecord | None:
        return self._by_id.get(principal_id)

    def by_token(self, token: str) -> PrincipalRecord | None:
        """The principal whose token digest matches `token`, if any."""
        digest = token_digest(token)
        found = None
        for stored, record in self._tokens:  # no early exit: constant time in the match
            if hmac.compare_digest(stored, digest):
                found = record
        return found

    def in_tenant(self, tenant: str) -> tuple[PrincipalRecord, ...]:
        return tuple(r for r in self._by_id.values() if tenant in r.tenants)

    def __iter__(self) -> Iterator[PrincipalRecord]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)


def load_principals(path: Path) -> Principals:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problem = Problem(str(path), None, None, None, "a readable UTF-8 file",
                          type(exc).__name__, "principal")
        raise PrincipalsLoadError([problem]) from None
    return parse_principals(text, source=str(path))


def parse_principals(text: str, source: str = "<string>") -> Principals:
    data = read_toml(text, source, PrincipalsLoadError)
    report = Reporter(source, text, entry_kind="principal")
    report.keys(data, ("principal", "cli_votes", "demo"), (), None)
    cli_votes = _cli_votes(data.get("cli_votes", "operator"), report)
    demo = report.boolean(data, "demo", (), None) if "demo" in data else False
    raw = data.get("principal", [])
    records: list[PrincipalRecord] = []
    if not isinstance(raw, list):
        report.add(("principal",), None, "principal", "an array of tables ([[principal]])",
                   describe(raw))
        raw = []
    seen_ids: set[str] = set()
    seen_tokens: set[str] = set()
    for index, table in enumerate(raw):
        record = _record(table, ("principal", str(index)), f"#{index + 1}", report)
        if record is None:
            continue
        path = ("principal", str(index))
        if record.id in seen_ids:
            report.add((*path, "id"), record.id, "id", "a unique principal id", repr(record.id))
        if record.token_sha256 is not None and record.token_sha256 in seen_tokens:
            report.add((*path, "token_sha256"), record.id, "token_sha256",
                       "a token digest no other principal uses", "a duplicate")
        seen_ids.add(record.id)
        if record.token_sha256 is not None:
            seen_tokens.add(record.token_sha256)
        records.append(record)
    report.raise_if_any(PrincipalsLoadError)
    return Principals(tuple(records), source, cli_votes=cli_votes, demo=bool(demo))


def _cli_votes(value: object, report: Reporter) -> CliVotes:
    for known in CLI_VOTES:
        if value == known:
            return known
    report.add(("cli_votes",), None, "cli_votes", 'one of "operator", "token"', describe(value))
    return "operator"


def _record(table: Any, path: tuple[str, ...], fallback: str,
            report: Reporter) -> PrincipalRecord | None:
    if not isinstance(table, dict):
        report.add(path, fallback, None, "a table", describe(table))
        return None
    before = len(report.problems)
    pid = report.string(table, "id", path, fallback, required=True)
    entry = pid or fallback
    report.keys(table, PRINCIPAL_KEYS, path, entry)
    kind = table.get("kind")
    if kind not in KINDS:
        got = "nothing" if "kind" not in table else describe(kind)
        report.add((*path, "kind"), entry, "kind", "one of " + ", ".join(KINDS), got)
    tenants = roles = None
    if "tenants" not in table:
        report.add(path, entry, "tenants", "this key to be present", "nothing")
    else:
        tenants = report.strings(table, "tenants", path, entry)
    if "roles" in table:
        roles = report.strings(table, "roles", path, entry, allow_empty=True)
    token = table.get("token_sha256")
    if token is not None and not (isinstance(token, str) and _SHA256.match(token)):
        report.add((*path, "token_sha256"), entry, "token_sha256",
                   "64 lowercase hex digits (the sha256 of the token)", describe(token))
    name = report.string(table, "display_name", path, entry, required=False)
    transports = None
    if "transports" in table:
        transports = report.strings(table, "transports", path, entry, allow_empty=True,
                                    choices=TRANSPORTS)
    if len(report.problems) > before or pid is None or tenants is None:
        return None
    return PrincipalRecord(
        id=pid, kind=_kind(kind), tenants=tenants, roles=roles or (),
        token_sha256=token if isinstance(token, str) else None, display_name=name,
        declared_transports=_transports(transports),
    )


def _transports(values: tuple[str, ...] | None) -> tuple[Transport, ...] | None:
    if values is None:
        return None
    return tuple(t for t in TRANSPORTS if t in values)


def _kind(value: object) -> PrincipalKind:
    for kind in KINDS:
        if value == kind:
            return kind
    raise ValueError(f"not a principal kind: {value!r}")


class PrincipalsFile(Principals):
    """The principals file, read again when it changes, so that removing a
    principal (or a tenant from one) revokes access without a restart.

    The file is checked at most every `min_interval` seconds (one `stat`); a
    new version that fails to load is ignored and the last good one stays,
    like a policy that fails to load."""

    def __init__(self, path: Path, *, min_interval: float = 1.0) -> None:
        self._path = path
        self._min_interval = min_interval
        self._stamp = self._stat()
        self._loaded = load_principals(path)  # a bad file at start is an error
        self._checked = time.monotonic()
        super().__init__((), source=str(path))

    def _stat(self) -> tuple[int, int] | None:
        try:
            info = self._path.stat()
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size)

    def current(self) -> Principals:
        now = time.monotonic()
        if now - self._checked >= self._min_interval:
            self._checked = now
            stamp = self._stat()
            if stamp is not None and stamp != self._stamp:
                try:
                    self._loaded = load_principals(self._path)
                    self._stamp = stamp
                except (PrincipalsLoadError, OSError) as exc:
                    log.warning("keeping the principals loaded before: %s", exc)
        return self._loaded

    @property
    def cli_votes(self) -> CliVotes:
        return self.current().cli_votes

    @property
    def demo(self) -> bool:
        return self.current().demo

    def get(self, principal_id: str) -> PrincipalRecord | None:
        return self.current().get(principal_id)

    def by_token(self, token: str) -> PrincipalRecord | None:
        return self.current().by_token(token)

    def in_tenant(self, tenant: str) -> tuple[PrincipalRecord, ...]:
        return self.current().in_tenant(tenant)

    def __iter__(self) -> Iterator[PrincipalRecord]:
        return iter(self.current())

    def __len__(self) -> int:
        return len(self.current())
