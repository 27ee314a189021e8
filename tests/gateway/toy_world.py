"""Toybox behind the gateway, for counting upstream calls: its `tally` tools
append a line per call to a file that outlives every process, so a test can
say how many times a call was made (not idempotent: `tally`; declared
idempotent: `tally_again`). A gateway file pinned against it, a policy that
asks one reviewer for every call, and an app on a real SQLite file."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from signoff.server.app import App, Settings
from signoff.server.delivery.config import LEASE_FACTOR, RelayOptions
from signoff.server.delivery.relay import Relay
from signoff.server.gateway import INVOKER_TOPICS, load_gateway, pin, running, write_lock
from signoff.server.gateway.calls import STARTED
from signoff.server.gateway.setup import load_setup
from signoff.server.gateway.upstream import Upstreams
from signoff.server.services.registry import ConsumerPlace
from signoff.store.ports import UnitOfWork
from tests.conftest import principal

from .upstreams import TOYBOX

TENANT = "local"
AGENT = "agent:claude"
GATEWAY = """\
[[upstream]]
name = "box"
command = ["{python}", "{toybox}"]
timeout = "10s"

[upstream.env]
TOYBOX_TALLY = "{tally}"

[upstream.tools]
read = ["echo"]
propose = ["tally", "tally_again"]
idempotent = ["tally_again"]
"""
POLICY = """\
[queries]
default = { kinds = ["agent", "user"] }

[[rule]]
id = "tally.ask"
commands = ["tool.box.tally", "tool.box.tally_again"]
effect = "ask"
reason = "every call waits for a reviewer"
approvers = { roles = ["reviewer"], count = 1 }
"""
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

[[principal]]
id = "user:rafa"
kind = "user"
tenants = ["local"]
roles = ["reviewer"]

[[principal]]
id = "user:olga"
kind = "user"
tenants = ["local"]
roles = []

[[principal]]
id = "user:gus"
kind = "user"
tenants = ["globex"]
roles = ["reviewer"]
"""


@dataclass(frozen=True)
class ToyWorld:
    root: Path
    gateway: Path
    policy: Path
    principals: Path

    @property
    def db(self) -> Path:
        return self.root / "signoff.db"

    @property
    def tally(self) -> Path:
        return self.root / "tally.txt"

    def calls(self) -> list[str]:
        """The label of every call the upstream received, in order."""
        return self.tally.read_text().splitlines() if self.tally.exists() else []

    def settings(self) -> Settings:
        return Settings(db=self.db, gateway=self.gateway, policy=self.policy,
                        principals=self.principals)

    def files(self) -> list[str]:
        """The same files as CLI options."""
        return ["--db", str(self.db), "--policy", str(self.policy),
                "--principals", str(self.principals)]


async def make_toy_world(root: Path, principals: str = PRINCIPALS) -> ToyWorld:
    files = {"gateway.toml": GATEWAY.format(python=sys.executable, toybox=TOYBOX,
                                            tally=root / "tally.txt"),
             "policy.toml": POLICY, "principals.toml": principals}
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    world = ToyWorld(root, root / "gateway.toml", root / "policy.toml", root / "principals.toml")
    config = load_gateway(world.gateway)
    async with Upstreams() as upstreams:
        [upstream] = config.upstreams
        listed = {upstream.name: await upstreams.list_tools(upstream, TENANT)}
    write_lock(pin(config, listed), config.lock_path)
    return world


async def approved_call(app: App, tool: str = "tally", label: str = "one",
                        proposer: str = AGENT) -> str:
    """A call proposed and approved by user:rita (user:rafa when rita is the
    proposer): committed `tool_call.approved`, waiting for the invoker."""
    receipt = await app.proposals.submit(principal(app, proposer, TENANT), f"tool.box.{tool}", {
        "label": label, "confidence": 0.9, "rationale": "asked by the user"})
    assert receipt.status == "pending_approval", receipt
    assert receipt.proposal_id is not None
    reviewer = "user:rafa" if proposer == "user:rita" else "user:rita"
    vote = await app.approvals.approve(principal(app, reviewer, TENANT), receipt.proposal_id,
                                       digest=None, channel="cli")
    assert vote.proposal.status == "executing", vote.proposal
    return receipt.proposal_id


async def died_mid_call(app: App, proposal_id: str) -> None:
    """Leave the call as a process that died during it does: `started`,
    nothing after (the crash tests do this with a real kill)."""
    def begin(uow: UnitOfWork) -> None:
        proposal = uow.proposals.get(proposal_id, None)
        assert proposal is not None
        loaded = app.settler.load(uow, proposal.tenant_id, proposal.aggregate_id)
        app.settler.record(uow, proposal, loaded.version, STARTED,
                           {"attempt": loaded.state.attempts + 1, "message_id": "died"})
    await app.store.write(begin)


async def unknown_call(app: App, world: ToyWorld, label: str = "one",
                       proposer: str = "agent:claude") -> str:
    """An approved call whose process died during it: the invoker, finding
    it started, records outcome_unknown and calls nothing."""
    proposal_id = await approved_call(app, label=label, proposer=proposer)
    await died_mid_call(app, proposal_id)
    async with invoking(app, world) as relay:
        await drain(relay)
    assert await status_of(app, proposal_id) == "outcome_unknown"
    return proposal_id


async def status_of(app: App, proposal_id: str) -> str:
    stored = await app.store.read(lambda uow: uow.proposals.get(proposal_id, None))
    assert stored is not None
    return stored.status


async def call_events(app: App, proposal_id: str) -> list[str]:
    def read(uow: UnitOfWork) -> list[str]:
        proposal = uow.proposals.get(proposal_id, None)
        assert proposal is not None
        events = uow.events.stream(TENANT, "tool_call", proposal.aggregate_id)
        return [e.event_type for e in events]
    return list(await app.store.read(read))


async def drain(relay: Relay) -> None:
    while (await relay.run_once()).claimed:
        pass


@asynccontextmanager
async def invoking(app: App, world: ToyWorld) -> AsyncIterator[Relay]:
    """A relay in this process that runs the invoker against toybox. Built
    beside the app's consumers rather than registered among them, so one app
    can run one relay after another (each with its own upstreams)."""
    async with running(load_setup(world.gateway)) as runtime:
        invoker = runtime.invoker(store=app.store, settler=app.settler, clock=app.clock)
        sinks = [*app.consumers.build(world.root, {}),
                 invoker(ConsumerPlace(folder=world.root, options={}))]
        lease = LEASE_FACTOR * max(s.timeout for s in sinks)
        relay = Relay(app.store, sinks, app.clock, RelayOptions(lease=lease),
                      leave=app.consumers.left_alone() - frozenset(INVOKER_TOPICS))
        try:
            yield relay
        finally:
            await relay.close()
