"""Toybox (`upstreams/toybox.py`) behind the gateway, for what real servers
will not do on demand: a gateway file of one or more toybox upstreams, pinned
against them, a policy that lets every upstream call run inline, principals
in three tenants, and an app on a real SQLite file.

Every toybox gets `TOKEN` from `env:TOY_TOKEN` (a declared secret, to redact)
and `TOYBOX_HOLD` (a file: while it exists, the process exits at start)."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from signoff.server.app import App, Settings, build_app
from signoff.server.delivery.config import LEASE_FACTOR, RelayOptions
from signoff.server.delivery.relay import Relay
from signoff.server.gateway import INVOKER, GatewayRuntime, load_gateway, pin, running, write_lock
from signoff.server.gateway.setup import load_setup
from signoff.server.gateway.upstream import Upstreams
from signoff.store.ports import UnitOfWork
from signoff.store.records import EventEnvelope

from .upstreams import TOKEN, TOKEN_VAR, TOYBOX

TENANT = "local"
AGENT = "agent:claude"
# What every process that starts toyboxes resolves their env:NAME references from.
ENVIRON: dict[str, str] = {TOKEN_VAR: TOKEN}
QUERIES = """\
[queries]
default = { kinds = ["agent", "user"] }
"""
# A rule must match a command the gateway makes: only with propose tools.
ALLOW = """
[[rule]]
id = "tools.allow"
commands = ["tool.*"]
effect = "allow"
reason = "toybox calls run inline"
"""
PRINCIPALS = """\
[[principal]]
id = "agent:claude"
kind = "agent"
tenants = ["local"]
roles = []

[[principal]]
id = "agent:acme-bot"
kind = "agent"
tenants = ["acme"]
roles = []

[[principal]]
id = "agent:globex-bot"
kind = "agent"
tenants = ["globex"]
roles = []
"""


def toml_list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


@dataclass(frozen=True)
class Box:
    """One toybox upstream in the gateway file."""

    name: str
    read: tuple[str, ...] = ()
    propose: tuple[str, ...] = ()
    tenants: tuple[str, ...] | None = None
    timeout: str = "30s"
    # More of its environment: values are literals or env:NAME references.
    env: Mapping[str, str] = field(default_factory=dict)

    def toml(self, root: Path) -> str:
        env = {"TOKEN": f"env:{TOKEN_VAR}", "TOYBOX_HOLD": str(hold_file(root, self.name)),
               **self.env}
        lines = [
            "[[upstream]]", f'name = "{self.name}"',
            f'command = ["{sys.executable}", "{TOYBOX}"]', f'timeout = "{self.timeout}"',
            *([] if self.tenants is None else [f"tenants = {toml_list(self.tenants)}"]),
            "", "[upstream.env]", *(f'{k} = "{v}"' for k, v in env.items()),
            "", "[upstream.tools]", f"read = {toml_list(self.read)}",
            f"propose = {toml_list(self.propose)}", "",
        ]
        return "\n".join(lines)

    @property
    def pin_tenant(self) -> str:
        """A tenant it serves, to list its tools as."""
        return TENANT if self.tenants is None else self.tenants[0]


def hold_file(root: Path, name: str) -> Path:
    return root / f"hold-{name}"


@dataclass(frozen=True)
class BoxWorld:
    root: Path
    boxes: tuple[Box, ...]
    gateway: Path
    policy: Path
    principals: Path

    @property
    def db(self) -> Path:
        return self.root / "signoff.db"

    def hold(self, name: str) -> Path:
        return hold_file(self.root, name)

    def settings(self) -> Settings:
        return Settings(db=self.db, gateway=self.gateway, policy=self.policy,
                        principals=self.principals)

    def files(self) -> list[str]:
        """The same files as CLI options."""
        return ["--db", str(self.db), "--policy", str(self.policy),
                "--principals", str(self.principals)]


async def pin_world(world: BoxWorld, environ: Mapping[str, str] = ENVIRON) -> None:
    """`signoff gateway pin`, as the upstreams list their tools under `environ`."""
    config = load_gateway(world.gateway)
    listed = {}
    async with Upstreams(environ=environ) as upstreams:
        for box in world.boxes:
            upstream = config.upstream(box.name)
            assert upstream is not None
            listed[box.name] = await upstreams.list_tools(upstream, box.pin_tenant)
    write_lock(pin(config, listed), config.lock_path)


async def make_box_world(root: Path, *boxes: Box,
                         environ: Mapping[str, str] = ENVIRON) -> BoxWorld:
    gateway = "\n".join(box.toml(root) for box in boxes)
    policy = QUERIES + (ALLOW if any(box.propose for box in boxes) else "")
    files = {"gateway.toml": gateway, "policy.toml": policy, "principals.toml": PRINCIPALS}
    for name, text in files.items():
        (root / name).write_text(text)
    world = BoxWorld(root, boxes, root / "gateway.toml", root / "policy.toml",
                     root / "principals.toml")
    await pin_world(world, environ)
    return world


@asynccontextmanager
async def serving(
    world: BoxWorld, environ: Mapping[str, str] = ENVIRON
) -> AsyncIterator[tuple[App, GatewayRuntime, Relay]]:
    """The app, its gateway's upstreams, and a relay that runs the invoker."""
    async with await build_app(world.settings()) as app, \
            running(load_setup(world.gateway), environ) as runtime:
        app.consumers.add(INVOKER, runtime.invoker(store=app.store, settler=app.settler,
                                                   clock=app.clock))
        sinks = app.consumers.build(world.root, {})
        lease = LEASE_FACTOR * max(s.timeout for s in sinks)
        relay = Relay(app.store, sinks, app.clock, RelayOptions(lease=lease),
                      leave=app.consumers.left_alone())
        try:
            yield app, runtime, relay
        finally:
            await relay.close()


async def drain(relay: Relay) -> None:
    while (await relay.run_once()).claimed:
        pass


async def call_events(app: App, proposal_id: str, tenant: str = TENANT) -> list[EventEnvelope]:
    """The tool call's facts, in order, as stored."""
    def read(uow: UnitOfWork) -> list[EventEnvelope]:
        proposal = uow.proposals.get(proposal_id, None)
        assert proposal is not None
        return list(uow.events.stream(tenant, "tool_call", proposal.aggregate_id))
    return list(await app.store.read(read))


def serve_client(world: BoxWorld, principal: str = AGENT, tenant: str = TENANT,
                 environ: Mapping[str, str] = ENVIRON) -> Client:
    """A real MCP client of `signoff serve --gateway` over stdio."""
    params = StdioServerParameters(
        command=sys.executable, cwd=str(world.root), env={**os.environ, **environ},
        args=["-m", "signoff.server.cli", "serve", *world.files(), "--gateway",
              str(world.gateway), "--principal", principal, "--tenant", tenant, "--demo"])
    return Client(stdio_client(params), mode="legacy")


def text_of(result: Any) -> str:
    """The text blocks of a CallToolResult, joined."""
    return "".join(getattr(block, "text", "") for block in result.content)
