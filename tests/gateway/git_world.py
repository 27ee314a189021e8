"""A scratch git repository behind the gateway: the real `mcp-server-git`, a
gateway file pinned against it, and an app on a real SQLite file."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from signoff.server.app import App, Settings, build_app
from signoff.server.delivery.config import LEASE_FACTOR, RelayOptions
from signoff.server.delivery.relay import Relay
from signoff.server.gateway import INVOKER, GatewayRuntime, load_gateway, pin, running, write_lock
from signoff.server.gateway.setup import load_setup
from signoff.server.gateway.upstream import Upstreams

TENANT = "local"
GATEWAY = """\
[[upstream]]
name = "repo"
command = ["mcp-server-git", "--repository", "{repo}"]
timeout = "20s"

[upstream.env]
GIT_AUTHOR_NAME = "signoff"
GIT_AUTHOR_EMAIL = "s@example.org"
GIT_COMMITTER_NAME = "signoff"
GIT_COMMITTER_EMAIL = "s@example.org"
HOME = "{home}"

[upstream.tools]
read = ["git_status", "git_log", "git_diff*", "git_show"]
propose = ["git_add", "git_commit", "git_create_branch"]
idempotent = ["git_add"]
preview = {{ git_commit = "git_diff_staged" }}
"""
POLICY = """\
[queries]
default = { kinds = ["agent", "user"] }

[[rule]]
id = "add.allow"
commands = ["tool.repo.git_add"]
effect = "allow"
reason = "staging changes nothing permanent"

[[rule]]
id = "commit.ask"
commands = ["tool.repo.git_commit"]
effect = "ask"
reason = "a commit is history: a reviewer decides"
approvers = { roles = ["reviewer"], count = 1 }

[[rule]]
id = "branch.ask-two"
commands = ["tool.repo.git_create_branch"]
effect = "ask"
reason = "two reviewers"
approvers = { roles = ["reviewer"], count = 2 }
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
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


@dataclass(frozen=True)
class GitWorld:
    root: Path
    repo: Path
    gateway: Path
    policy: Path
    principals: Path

    @property
    def db(self) -> Path:
        return self.root / "signoff.db"

    def settings(self) -> Settings:
        return Settings(db=self.db, gateway=self.gateway, policy=self.policy,
                        principals=self.principals)

    def commits(self) -> list[str]:
        return git(self.repo, "log", "--format=%s").splitlines()


async def make_world(root: Path) -> GitWorld:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty",
        "-m", "initial")
    (repo / "notes.txt").write_text("a line\n")
    files = {"gateway.toml": GATEWAY.format(repo=repo, home=root),
             "policy.toml": POLICY, "principals.toml": PRINCIPALS}
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    world = GitWorld(root, repo, root / "gateway.toml", root / "policy.toml",
                     root / "principals.toml")
    config = load_gateway(world.gateway)
    async with Upstreams() as upstreams:
        [upstream] = config.upstreams
        listed = {upstream.name: await upstreams.list_tools(upstream, TENANT)}
    write_lock(pin(config, listed), config.lock_path)
    return world


@asynccontextmanager
async def serving(world: GitWorld) -> AsyncIterator[tuple[App, GatewayRuntime, Relay]]:
    """The app, its gateway's upstreams, and a relay that runs the invoker."""
    async with await build_app(world.settings()) as app, \
            running(load_setup(world.gateway)) as runtime:
        app.consumers.add(INVOKER, runtime.invoker(store=app.store, settler=app.settler,
                                                   clock=app.clock))
        sinks = app.consumers.build(world.root, {})
        lease = LEASE_FACTOR * max(s.timeout for s in sinks)
        relay = Relay(app.store, sinks, app.clock, RelayOptions(lease=lease),
                      leave=app.consumers.left_alone())
        yield app, runtime, relay
