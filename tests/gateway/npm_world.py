"""The reference npm MCP servers behind the gateway: `@modelcontextprotocol/
server-filesystem` on a scratch directory, `@modelcontextprotocol/server-memory`
on a scratch memory file. They are pinned in `upstreams/package.json` and its
lockfile (so their descriptions cannot drift under the pins) and installed by
`.ci/run`; where they are missing the tests skip, saying how to install them,
except in CI (`CI` set), where they must run.

Each runs as `node <its dist/index.js>`, node found on signoff's own PATH: an
upstream gets only the environment the gateway file declares, so the `.bin`
shims (`#!/usr/bin/env node`) would need `PATH = "env:PATH"` declared."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from signoff.server.app import Settings, build_app
from signoff.server.gateway import load_gateway, pin, write_lock
from signoff.server.gateway.upstream import Upstreams
from signoff.store.ports import UnitOfWork

from .box_world import toml_list
from .cli import signoff

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "upstreams" / "node_modules" / "@modelcontextprotocol"
FILESYSTEM = PACKAGES / "server-filesystem" / "dist" / "index.js"
MEMORY = PACKAGES / "server-memory" / "dist" / "index.js"
INSTALL = "(cd upstreams && npm ci)"
TENANT = "local"
AGENT = "agent:claude"
REVIEWER = "user:rita"
# How many times a test asks for a receipt, 0.2 s apart, while the relay in
# serve makes the call: a bound for a loaded machine, not a measurement.
SETTLE_TRIES = 300
PRINCIPALS = """\
[[principal]]
id = "agent:claude"
kind = "agent"
tenants = ["local"]
roles = []

[[principal]]
id = "user:rita"
kind = "user"
tenants = ["local"]
roles = ["reviewer"]
"""


def require_npm_servers() -> None:
    """Skip (fail in CI) unless node and both servers are installed."""
    missing = [str(p.relative_to(ROOT)) for p in (FILESYSTEM, MEMORY) if not p.exists()]
    if shutil.which("node") is None:
        missing.append("node (on PATH)")
    if not missing:
        return
    message = (f"the reference npm MCP servers are not installed (missing: "
               f"{', '.join(missing)}); install them from {ROOT} with `{INSTALL}`")
    if os.environ.get("CI"):
        pytest.fail(message + " — CI must run these tests")
    pytest.skip(message)


@dataclass(frozen=True)
class NpmServer:
    """One reference server as an upstream: which tools pass and which wait."""

    name: str
    script: Path
    args: tuple[str, ...]
    env: Mapping[str, str]
    read: tuple[str, ...]
    propose: tuple[str, ...]

    def gateway(self) -> str:
        env = "".join(f'{k} = "{v}"\n' for k, v in self.env.items())
        return (f'[[upstream]]\nname = "{self.name}"\n'
                f"command = {toml_list(('node', str(self.script), *self.args))}\n"
                f'timeout = "30s"\n\n[upstream.env]\n{env}\n[upstream.tools]\n'
                f"read = {toml_list(self.read)}\npropose = {toml_list(self.propose)}\n")

    def policy(self) -> str:
        return ('[queries]\ndefault = { kinds = ["agent", "user"] }\n\n[[rule]]\n'
                f'id = "{self.name}.ask"\ncommands = ["tool.{self.name}.*"]\neffect = "ask"\n'
                'reason = "a reviewer decides every write"\n'
                'approvers = { roles = ["reviewer"], count = 1 }\n')


def filesystem(scratch: Path) -> NpmServer:
    return NpmServer("files", FILESYSTEM, (str(scratch),), {},
                     read=("read_text_file", "read_file", "list_directory"),
                     propose=("write_file",))


def memory(scratch: Path) -> NpmServer:
    return NpmServer("memory", MEMORY, (), {"MEMORY_FILE_PATH": str(scratch / "memory.jsonl")},
                     read=("read_graph", "search_nodes"), propose=("create_entities",))


@dataclass(frozen=True)
class NpmWorld:
    root: Path
    scratch: Path
    gateway: Path
    policy: Path
    principals: Path

    @property
    def db(self) -> Path:
        return self.root / "signoff.db"

    def files(self) -> list[str]:
        return ["--db", str(self.db), "--policy", str(self.policy),
                "--principals", str(self.principals)]

    def client(self) -> Client:
        """The agent: a real MCP client of `signoff serve --gateway` on stdio."""
        params = StdioServerParameters(
            command=sys.executable, cwd=str(self.root), env=dict(os.environ),
            args=["-m", "signoff.server.cli", "serve", *self.files(), "--gateway",
                  str(self.gateway), "--principal", AGENT, "--tenant", TENANT, "--demo"])
        return Client(stdio_client(params), mode="legacy")

    def review(self, verb: str, proposal_id: str, *more: str) -> None:
        """`signoff review VERB ID --as user:rita ...`, which must succeed."""
        done = signoff("review", verb, proposal_id, "--as", REVIEWER, *more, *self.files(),
                       env={"SIGNOFF_GATEWAY": str(self.gateway)})
        assert done.returncode == 0, done.stdout + done.stderr


async def make_npm_world(root: Path, server: Callable[[Path], NpmServer]) -> NpmWorld:
    """`server` makes the upstream from the scratch directory; it is pinned."""
    require_npm_servers()
    scratch = root / "scratch"
    scratch.mkdir()
    upstream = server(scratch)
    files = {"gateway.toml": upstream.gateway(), "policy.toml": upstream.policy(),
             "principals.toml": PRINCIPALS}
    for name, text in files.items():
        (root / name).write_text(text)
    world = NpmWorld(root, scratch, root / "gateway.toml", root / "policy.toml",
                     root / "principals.toml")
    config = load_gateway(world.gateway)
    async with Upstreams() as upstreams:
        [pinned] = config.upstreams
        listed = {pinned.name: await upstreams.list_tools(pinned, TENANT)}
    write_lock(pin(config, listed), config.lock_path)
    return world


def structured(result: Any) -> dict[str, Any]:
    assert result.structured_content is not None, result
    return dict(result.structured_content)


async def settled(session: Client, proposal_id: str) -> dict[str, Any]:
    """The receipt once the relay inside serve has made the call."""
    for _ in range(SETTLE_TRIES):
        receipt = structured(await session.call_tool("get_proposal",
                                                     {"proposal_id": proposal_id}))
        if receipt["status"] not in ("executing", "approved"):
            return receipt
        await anyio.sleep(0.2)
    raise AssertionError(f"{proposal_id} is still executing")


async def call_events(world: NpmWorld, proposal_id: str) -> list[str]:
    """The event types of the proposal's upstream call, read from the database."""
    def read(uow: UnitOfWork) -> list[str]:
        proposal = uow.proposals.get(proposal_id, None)
        assert proposal is not None
        return [e.event_type for e in uow.events.stream(TENANT, "tool_call",
                                                         proposal.aggregate_id)]
    settings = Settings(db=world.db, gateway=world.gateway, policy=world.policy,
                        principals=world.principals)
    async with await build_app(settings) as app:
        return list(await app.store.read(read))
