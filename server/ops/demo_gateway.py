"""`signoff demo gateway`: a real `mcp-server-git` behind the gate.

In a scratch git repository beside the database, the agent (`agent:claude`)
reads freely through the gateway — status, diff, log — stages a file (the
policy allows `git_add`: called at once, the upstream's answer inline), and
proposes a commit (the policy asks a reviewer: it waits). The reviewer
(`user:rita`) sees the arguments, what approving will call and the staged
diff (the preview), approves; the relay's invoker calls `git_commit` once;
`git log` shows the commit once; the trace shows it all.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from signoff.server.app import App, Settings, build_app
from signoff.server.delivery import DeliveryConfig, RelayOptions, relay_for
from signoff.server.gateway import (
    INVOKER,
    Upstreams,
    call_view,
    load_gateway,
    load_setup,
    pin,
    preview,
    running,
    write_lock,
)
from signoff.server.mcp import FixedIdentity, build_server
from signoff.server.ops.demo import DemoError, OnStep, Session, Step, expect
from signoff.server.ops.demo_gateway_files import GATEWAY, POLICY, PRINCIPALS
from signoff.server.ops.trace import trace_of

AGENT, REVIEWER, TENANT = "agent:claude", "user:rita", "local"


def _git(repo: Path, *args: str) -> str:
    git = shutil.which("git")
    if git is None:
        raise DemoError("the gateway demo needs git")
    return subprocess.run([git, "-C", str(repo), *args], capture_output=True,  # noqa: S603
                          text=True, check=True).stdout


def prepare(folder: Path) -> tuple[Path, Settings]:
    """A scratch repository with one change to commit, and the gateway,
    policy and principals files beside it."""
    if shutil.which("mcp-server-git") is None:
        raise DemoError("mcp-server-git is not installed: pip install 'signoff[gateway]'")
    repo = folder / "repo"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q")
    _git(repo, "-c", "user.name=demo", "-c", "user.email=demo@example.org", "commit", "-q",
         "--allow-empty", "-m", "Initial commit")
    (repo / "NOTES.md").write_text("# Notes\n\nsignoff was here.\n")
    for name, text in (("gateway.toml", GATEWAY.format(repo=repo, home=folder)),
                       ("policy.toml", POLICY), ("principals.toml", PRINCIPALS)):
        (folder / name).write_text(text)
    return repo, Settings(db=folder.parent / "signoff.db", gateway=folder / "gateway.toml",
                          policy=folder / "policy.toml", principals=folder / "principals.toml")


async def pin_catalogue(gateway: Path) -> None:
    config = load_gateway(gateway)
    async with Upstreams() as upstreams:
        listed = {u.name: await upstreams.list_tools(u, TENANT) for u in config.upstreams}
    write_lock(pin(config, listed), config.lock_path)


@asynccontextmanager
async def _relaying(app: App, stop: anyio.Event) -> AsyncIterator[None]:
    relay = relay_for(app, DeliveryConfig(relay=RelayOptions(poll=0.05)))
    async with anyio.create_task_group() as tg:
        tg.start_soon(relay.run, stop)
        try:
            yield
        finally:
            stop.set()


async def play_gateway(db: Path | str, on_step: OnStep = lambda _s: None) -> list[Step]:
    """The gateway story on `db` (a SQLite file, or a PostgreSQL URL): its
    files go beside a file, else into the working directory."""
    folder = (db.parent if isinstance(db, Path) else Path.cwd()) / "signoff-demo-gateway"
    repo, settings = prepare(folder)
    settings = Settings(db=db, gateway=settings.gateway, policy=settings.policy,
                        principals=settings.principals)
    await pin_catalogue(folder / "gateway.toml")
    setup = load_setup(folder / "gateway.toml")
    async with await build_app(settings) as app, running(setup) as runtime:
        app.consumers.add(INVOKER, runtime.invoker(store=app.store, settler=app.settler,
                                                   clock=app.clock))
        agent = _facts(app, AGENT)
        server = build_server(app, FixedIdentity(agent), gateway=runtime)
        async with server.running(), Client(server) as client, \
                _relaying(app, anyio.Event()):
            s = Session(client, app.ids("run"), on_step)
            listed = await client.list_tools()
            s.record("The agent lists its tools: the repository's reads pass through, its "
                     "writes are proposals", "tool", {"tools": sorted(
                         t.name for t in listed.tools if t.name.startswith("repo_"))})
            path = {"repo_path": str(repo)}
            await s.call("It reads the status: passed through to mcp-server-git",
                         "repo_git_status", path)
            await s.call("It reads the unstaged diff", "repo_git_diff_unstaged", path)
            added = await s.call("It stages NOTES.md: the policy allows git_add, so it runs "
                                 "at once and the answer comes back inline", "repo_git_add",
                                 {**path, "files": ["NOTES.md"], "confidence": 0.9,
                                  "rationale": "the user asked to record the notes"})
            expect(added, "status", "executed")
            commit = await s.call("It proposes the commit: the policy asks a reviewer, so it "
                                  "waits", "repo_git_commit",
                                  {**path, "message": "Add notes", "confidence": 0.9,
                                   "rationale": "the user asked to commit the notes"})
            expect(commit, "status", "pending_approval")
            await _review(app, runtime, s, str(commit["proposal_id"]))
            final = await _settled(s, str(commit["proposal_id"]))
            expect(final, "status", "executed")
            s.record("git log: the commit is there, once", "tool",
                     {"git log": _git(repo, "log", "--format=%h %s").splitlines()})
            await server.runtime_log.flush()
            trace = await trace_of(app, str(commit["proposal_id"]), TENANT)
            if trace is not None:
                s.record("The trace (signoff trace)", "trace", trace.model_dump(mode="json"))
    return s.steps


def _facts(app: App, principal_id: str) -> Any:
    record = app.principals.get(principal_id)
    if record is None:
        raise DemoError(f"the principals file has no {principal_id}")
    return record.facts(TENANT)


async def _review(app: App, runtime: Any, s: Session, proposal_id: str) -> None:
    proposal = await app.store.read(lambda uow: uow.proposals.get(proposal_id, TENANT))
    if proposal is None or app.gateway is None:
        raise DemoError(f"proposal {proposal_id} vanished")
    view = call_view(app.gateway, proposal)
    if view is None:
        raise DemoError(f"{proposal_id} is not an upstream call")
    shown = await preview(runtime, view, TENANT)
    vote = await app.approvals.approve(_facts(app, REVIEWER), proposal_id,
                                       digest=proposal.payload_digest, channel="cli",
                                       comment="Reviewed the staged diff.")
    s.record(f"The reviewer ({REVIEWER}) sees what approving will call and the staged diff, "
             "and approves", "review", {
                 "will_call": view.will_call, "arguments": view.arguments,
                 "preview": shown, "voter": REVIEWER, "status": vote.proposal.status})


async def _settled(s: Session, proposal_id: str) -> dict[str, Any]:
    """The receipt once the relay's invoker has made the call."""
    for _ in range(600):
        receipt = await s.peek("get_proposal", {"proposal_id": proposal_id})
        if receipt.get("status") != "executing":
            break
        await anyio.sleep(0.1)
    s.record("The agent follows up: the commit was made", "tool", receipt,
             tool="get_proposal", arguments={"proposal_id": proposal_id})
    return receipt
