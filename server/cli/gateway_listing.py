"""Listing upstreams' tools for the commands that start them only for that
(`gateway pin`, `gateway status`, `gateway init`).

Every upstream starts at once (a server takes seconds to start), under a
status line naming those still starting, and each gets a line on stderr as
it answers or fails. A failure keeps the last lines the upstream wrote to
stderr (already redacted by the gateway), since "exited with code 1" alone
says nothing of why.

Which tenant an upstream is started for: `--tenant` when it serves that
tenant, else the first tenant it names, else the placeholder tenant `pin`.
The catalogue is one for every tenant; `serve` checks each tenant's own
listing against the pinned digests and withholds what differs.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import anyio
import mcp_types
import typer

from signoff.server.cli.common import err, escape
from signoff.server.errors import SignoffError
from signoff.server.gateway import Upstream, Upstreams

PLACEHOLDER_TENANT = "pin"
STDERR_LINES = 5
TENANT_MARK = "{tenant}"
_NEXT_START = re.compile(r"; next start in [0-9.]+ s$")

StartTimeout = Annotated[float, typer.Option(
    "--start-timeout", min=1.0, help="Seconds each upstream may take to start.")]


@dataclass(frozen=True)
class Listing:
    upstream: Upstream
    tenant: str
    tools: list[mcp_types.Tool] | None  # None: it could not be listed
    error: str = ""
    stderr: tuple[str, ...] = ()

    @property
    def explained(self) -> list[str]:
        """The error, a hint, and the upstream's last stderr lines."""
        lines = [self.error]
        if _uses_tenant(self.upstream) and self.tenant == PLACEHOLDER_TENANT:
            lines.append(f"its command or env uses {TENANT_MARK}, which was "
                         f"{PLACEHOLDER_TENANT!r} here: pass --tenant naming a real tenant")
        return lines + [f"stderr: {line}" for line in self.stderr]


def listing_tenant(upstream: Upstream, wanted: str | None) -> str:
    if wanted is not None and upstream.serves(wanted):
        return wanted
    if upstream.tenants:
        return upstream.tenants[0]
    return wanted or PLACEHOLDER_TENANT


def _uses_tenant(upstream: Upstream) -> bool:
    return any(TENANT_MARK in part
               for part in (*upstream.command, upstream.url or "", *upstream.env.values()))


def listed_tools(listings: Sequence[Listing]) -> dict[str, list[mcp_types.Tool]]:
    """upstream name -> its tools, for the upstreams that could be listed."""
    return {entry.upstream.name: entry.tools for entry in listings if entry.tools is not None}


class _StderrLines(logging.Handler):
    """Keeps each upstream's last stderr lines; drops the gateway's other
    log records (the listing reports failures itself)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: dict[str, deque[str]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        upstream = getattr(record, "upstream", None)
        if isinstance(upstream, str) and record.msg == "%s stderr: %s" and record.args:
            line = str(record.args[-1]) if isinstance(record.args, tuple) else ""
            self.lines.setdefault(upstream, deque(maxlen=STDERR_LINES)).append(line)


@contextmanager
def _captured() -> Iterator[_StderrLines]:
    logger = logging.getLogger("signoff.gateway")
    handler = _StderrLines()
    saved = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


async def list_upstreams(upstreams: Sequence[Upstream], *, tenant: str | None,
                         environ: Mapping[str, str] | None = None,
                         start_timeout: float = 30.0) -> list[Listing]:
    """Each upstream's tools, in the order given; `environ` resolves env:NAME
    (default: this process's environment)."""
    found: dict[str, Listing] = {}
    pending = [u.name for u in upstreams]
    with _captured() as stderr, err.status(_waiting(pending)) as status:
        async with Upstreams(environ=environ, connect_timeout=start_timeout) as opened:

            async def one(upstream: Upstream) -> None:
                chosen = listing_tenant(upstream, tenant)
                try:
                    tools = await opened.list_tools(upstream, chosen)
                    entry = Listing(upstream, chosen, tools)
                except SignoffError as exc:
                    kept = tuple(stderr.lines.get(upstream.name, ()))
                    entry = Listing(upstream, chosen, None, _NEXT_START.sub("", exc.message),
                                    kept)
                found[upstream.name] = entry
                pending.remove(upstream.name)
                _report(entry)
                status.update(_waiting(pending))

            async with anyio.create_task_group() as tg:
                for upstream in upstreams:
                    tg.start_soon(one, upstream)
            status.update("Stopping the upstreams…")
    return [found[u.name] for u in upstreams]


def _waiting(pending: Sequence[str]) -> str:
    return f"Starting upstreams and listing their tools: {escape(', '.join(pending))}…"


def _report(entry: Listing) -> None:
    name = escape(f"{entry.upstream.name} (tenant {entry.tenant})")
    if entry.tools is not None:
        err.print(f"[green]✓[/green] {name}: {len(entry.tools)} tool(s) listed")
    else:
        first, *more = entry.explained
        err.print(f"[red]✗[/red] {name}: {escape(first)}")
        for line in more:
            err.print(f"    {escape(line)}")
