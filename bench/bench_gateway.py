"""The gateway's cost over calling the upstream directly (issue 11).

Two stdio clients side by side, rounds alternating: one talks to
`mcp-server-git` directly, the other to `signoff serve --gateway` in front of
a second `mcp-server-git` on its own copy of the repository. Per round, each
makes the same calls; the figure is the median latency of a call.

- read pass-through (`git_status` ÷ `repo_git_status`): goal ≤ 1.2
- an allowed propose call executed inline (`git_add` ÷ `repo_git_add`, the
  policy allows it; the receipt waits for the upstream's answer): goal ≤ 1.6
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
from benchlib import emit, parser, workdir
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from rounds import Row, alternate, at_most, ratio_row

GATEWAY = """\
[[upstream]]
name = "repo"
command = ["mcp-server-git", "--repository", "{repo}"]

[upstream.env]
HOME = "{home}"

[upstream.tools]
read = ["git_status"]
propose = ["git_add"]
idempotent = ["git_add"]
"""
POLICY = """\
[queries]
default = { kinds = ["agent"] }

[[rule]]
id = "add.allow"
commands = ["tool.repo.git_add"]
effect = "allow"
reason = "staging"
"""
PRINCIPALS = """\
[[principal]]
id = "agent:bench"
kind = "agent"
tenants = ["bench"]
roles = []
"""


def _repo(path: Path) -> Path:
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    for n in range(20):
        (path / f"f{n}.txt").write_text(f"{n}\n")
    return path


def _signoff(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "signoff.server.cli", *args], check=True,
                   capture_output=True)


async def _timed(call: Callable[[], Awaitable[Any]], n: int) -> float:
    """Median seconds of `n` calls."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def run(folder: Path, quick: bool, rounds: int) -> list[Row]:
    direct_repo, gated_repo = _repo(folder / "direct"), _repo(folder / "gated")
    files = {"gateway.toml": GATEWAY.format(repo=gated_repo, home=folder),
             "policy.toml": POLICY, "principals.toml": PRINCIPALS}
    for name, text in files.items():
        (folder / name).write_text(text)
    db = folder / "signoff.db"
    _signoff("db", "migrate", "--db", str(db))
    _signoff("gateway", "pin", str(folder / "gateway.toml"))
    n = 10 if quick else 40
    async with AsyncExitStack() as stack:
        direct = await stack.enter_async_context(Client(stdio_client(StdioServerParameters(
            command="mcp-server-git", args=["--repository", str(direct_repo)])),
            mode="legacy"))
        gated = await stack.enter_async_context(Client(stdio_client(StdioServerParameters(
            command=sys.executable, cwd=str(folder), args=[
                "-m", "signoff.server.cli", "serve", "--db", str(db), "--domain", "none",
                "--gateway", str(folder / "gateway.toml"), "--policy",
                str(folder / "policy.toml"), "--principals", str(folder / "principals.toml"),
                "--principal", "agent:bench", "--tenant", "bench"])), mode="legacy"))
        counter = iter(range(10**9))

        def add(client: Client, tool: str, repo: Path, gated_call: bool) -> Callable[
                [], Awaitable[Any]]:
            async def call() -> Any:
                i = next(counter) % 20
                extra = {"confidence": 0.9, "idempotency_key": f"k{next(counter)}"} \
                    if gated_call else {}
                return await client.call_tool(tool, {"repo_path": str(repo),
                                                     "files": [f"f{i}.txt"], **extra})
            return call

        def status(client: Client, tool: str, repo: Path) -> Callable[[], Awaitable[Any]]:
            return lambda: client.call_tool(tool, {"repo_path": str(repo)})

        reads = await alternate({
            "direct": lambda: _timed(status(direct, "git_status", direct_repo), n),
            "gateway": lambda: _timed(status(gated, "repo_git_status", gated_repo), n),
        }, rounds)
        writes = await alternate({
            "direct": lambda: _timed(add(direct, "git_add", direct_repo, False), n),
            "gateway": lambda: _timed(add(gated, "repo_git_add", gated_repo, True), n),
        }, rounds)
    return [
        ratio_row("gateway", "read pass-through ÷ the upstream directly (stdio)",
                  ("gateway", reads["gateway"]), ("direct", reads["direct"]), at_most(1.2),
                  unit="s"),
        ratio_row("gateway", "allowed propose call executed inline ÷ the upstream directly",
                  ("gateway", writes["gateway"]), ("direct", writes["direct"]), at_most(1.6),
                  unit="s"),
    ]


def main() -> None:
    args = parser(__doc__).parse_args()
    rounds = args.rounds or (5 if args.quick else 7)
    with workdir(args.dir) as folder:
        rows = anyio.run(run, folder, args.quick, rounds)
    emit(rows, args.json, "gateway")


if __name__ == "__main__":
    main()
