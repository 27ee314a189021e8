"""What a gateway file declares: existing MCP servers ("upstreams") to put
behind the gate, and which of their tools pass through as reads and which
become proposals. Plain frozen data; `config.py` reads it from TOML.

A value written `env:NAME` is a reference to the environment variable NAME,
resolved only by the processes that start upstreams (`serve`, `relay`), never
stored or logged; `{tenant}` in a command, its arguments or an env value is
the calling tenant.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Exposure = Literal["read", "propose"]
NAME = re.compile(r"^[a-z0-9_]+$")
ENV_PREFIX = "env:"
TENANT = "{tenant}"
# What signoff adds to every propose tool's arguments: an upstream argument of
# one of these names would be ambiguous, and is refused at pin.
# (`expected_version` too: the proposal service reads it as its own.)
RESERVED_ARGUMENTS = frozenset({"rationale", "evidence_refs", "confidence", "idempotency_key",
                                "expected_version"})


@dataclass(frozen=True)
class ToolLists:
    """`read` and `propose` are names or glob patterns (`git_diff*`); a tool
    matching neither is not exposed. `idempotent` tools may be re-invoked
    after a crash; `preview` maps a propose tool to a read tool re-run when
    a reviewer opens the proposal."""

    read: tuple[str, ...] = ()
    propose: tuple[str, ...] = ()
    idempotent: tuple[str, ...] = ()
    preview: Mapping[str, str] = field(default_factory=dict)

    def exposure(self, tool: str) -> Exposure | None:
        if any(fnmatch.fnmatchcase(tool, p) for p in self.propose):
            return "propose"
        if any(fnmatch.fnmatchcase(tool, p) for p in self.read):
            return "read"
        return None

    def is_idempotent(self, tool: str) -> bool:
        return any(fnmatch.fnmatchcase(tool, p) for p in self.idempotent)


@dataclass(frozen=True)
class Upstream:
    name: str
    # stdio: the command line signoff starts (argv, no shell) ...
    command: tuple[str, ...] = ()
    # ... or streamable HTTP.
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # The only environment the upstream process gets (values may be env:NAME).
    env: Mapping[str, str] = field(default_factory=dict)
    # Who sees it; None: every tenant.
    tenants: tuple[str, ...] | None = None
    # One process for all its tenants (opt in); else one per tenant.
    shared: bool = False
    timeout_seconds: float = 60.0
    tools: ToolLists = field(default_factory=ToolLists)
    # The line of its [[upstream]] table, for messages.
    line: int | None = None

    @property
    def transport(self) -> Literal["stdio", "http"]:
        return "http" if self.url is not None else "stdio"

    def serves(self, tenant: str) -> bool:
        return self.tenants is None or tenant in self.tenants

    def exposed_name(self, tool: str) -> str:
        """The tool's name on signoff's MCP surface: `repo_git_commit`."""
        return f"{self.name}_{tool}"

    def command_type(self, tool: str) -> str:
        """The command type of a propose tool: `tool.repo.git_commit`."""
        return f"tool.{self.name}.{tool}"


@dataclass(frozen=True)
class GatewayConfig:
    path: Path
    upstreams: tuple[Upstream, ...]

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def upstream(self, name: str) -> Upstream | None:
        return next((u for u in self.upstreams if u.name == name), None)


def env_reference(value: str) -> str | None:
    """NAME for `env:NAME`, else None (a literal)."""
    return value[len(ENV_PREFIX):] if value.startswith(ENV_PREFIX) else None


def for_tenant(value: str, tenant: str | None) -> str:
    return value.replace(TENANT, tenant) if tenant is not None else value
