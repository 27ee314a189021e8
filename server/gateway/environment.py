"""An upstream's `env:NAME` references and `{tenant}` made concrete, for the
processes that start upstreams (`serve`, `relay`) and for nobody else.

Kept apart from loading so that `review`, `console` and `policy` read a
gateway file without its secrets. What `resolve` returns holds secrets: its
repr names only what is safe (the upstream, the tenant, variable and header
names), so a log line or a traceback that shows it shows no value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from signoff.server.errors import ConfigError
from signoff.server.gateway.model import GatewayConfig, Upstream, env_reference, for_tenant

# A tenant goes into argv and env (`/srv/{tenant}`): nothing that could climb
# out of a directory or split an argument.
SAFE_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True, repr=False)
class ResolvedUpstream:
    """One upstream as one of its processes (or connections) needs it."""

    name: str
    # None for a shared upstream: one process serves every tenant.
    tenant: str | None
    transport: Literal["stdio", "http"]
    argv: tuple[str, ...]
    # The whole environment the process gets: only what the file declares.
    env: Mapping[str, str]
    url: str | None
    headers: Mapping[str, str]
    timeout_seconds: float
    # The values that came from env:NAME references, to redact from results,
    # stderr and logs.
    secrets: frozenset[str] = field(default_factory=frozenset)

    def __repr__(self) -> str:
        where = self.url_origin() if self.transport == "http" else (self.argv[:1] or ("?",))[0]
        return (f"ResolvedUpstream(name={self.name!r}, tenant={self.tenant!r}, "
                f"transport={self.transport!r}, target={where!r}, "
                f"env=[{', '.join(sorted(self.env))}], "
                f"headers=[{', '.join(sorted(self.headers))}])")

    __str__ = __repr__

    def url_origin(self) -> str:
        """Scheme and host of the URL: a path or query may carry a token."""
        if self.url is None:
            return ""
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0]}"


def _references(upstream: Upstream) -> Iterator[tuple[str, str]]:
    """(key shown in messages, variable name) of every env:NAME it uses."""
    for table, values in (("env", upstream.env), ("headers", upstream.headers)):
        for key, value in sorted(values.items()):
            name = env_reference(value)
            if name is not None:
                yield f"{table}.{key}", name


def missing_env(config: GatewayConfig, environ: Mapping[str, str]) -> list[str]:
    """One message per env:NAME reference that `environ` does not set (or sets
    empty); serve refuses to start while any is missing."""
    messages = []
    for upstream in config.upstreams:
        where = str(config.path) + (f":{upstream.line}" if upstream.line else "")
        for key, name in _references(upstream):
            if not environ.get(name):
                messages.append(f"{where}: upstream {upstream.name!r}: key {key!r}: "
                                f"environment variable {name} is not set")
    return messages


def resolve(upstream: Upstream, tenant: str | None,
            environ: Mapping[str, str]) -> ResolvedUpstream:
    """The upstream for `tenant` (ignored when it is shared): `{tenant}`
    substituted, env:NAME replaced by its value. Raises ConfigError naming the
    variable (never a value) when one is missing."""
    if upstream.shared:
        tenant = None
    elif tenant is None:
        raise ConfigError(f"upstream {upstream.name!r} runs once per tenant: name the tenant")
    if tenant is not None and not SAFE_TENANT.match(tenant):
        raise ConfigError(f"tenant {tenant!r} cannot name an upstream process "
                          "(letters, digits, _ . - only)")
    if tenant is not None and not upstream.serves(tenant):
        raise ConfigError(f"upstream {upstream.name!r} does not serve tenant {tenant!r}")
    secrets: set[str] = set()

    def value(raw: str, key: str) -> str:
        name = env_reference(raw)
        if name is None:
            return for_tenant(raw, tenant)
        found = environ.get(name)
        if not found:
            raise ConfigError(f"upstream {upstream.name!r}: key {key!r}: environment variable "
                              f"{name} is not set")
        secrets.add(found)
        return found

    env = {k: value(v, f"env.{k}") for k, v in upstream.env.items()}
    headers = {k: value(v, f"headers.{k}") for k, v in upstream.headers.items()}
    return ResolvedUpstream(
        name=upstream.name, tenant=tenant, transport=upstream.transport,
        argv=tuple(for_tenant(part, tenant) for part in upstream.command),
        env=env,
        url=for_tenant(upstream.url, tenant) if upstream.url is not None else None,
        headers=headers, timeout_seconds=upstream.timeout_seconds,
        secrets=frozenset(secrets))
