"""What the gateway CLI tests share: running `signoff` as a process, and a
scratch git repository with `mcp-server-git` (the real one, from PyPI) as
its upstream."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# A bound for one command that starts upstreams on a loaded machine, not a
# measurement: every assertion is on what the command did.
PROCESS_BOUND = 300

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.test",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.test"}
GIT_READ = ["git_diff*", "git_log", "git_show", "git_status"]
GIT_PROPOSE = ["git_add", "git_commit"]


def signoff(*args: str, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signoff.server.cli", *args], capture_output=True, text=True,
        timeout=PROCESS_BOUND, check=False, stdin=subprocess.DEVNULL, cwd=cwd,
        env={**os.environ, "COLUMNS": "400", **(env or {})})


def scratch_repo(path: Path) -> Path:
    """A git repository with one commit."""
    path.mkdir(parents=True)
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "init", "-q", str(path)], check=True, env=env)
    (path / "README").write_text("hello\n")
    subprocess.run(["git", "-C", str(path), "add", "README"], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "commit", "-q", "-m", "first"], check=True, env=env)
    return path


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def git_gateway(path: Path, repo: Path, *, read: list[str] | None = None,
                propose: list[str] | None = None) -> Path:
    path.write_text(f"""\
[[upstream]]
name = "repo"
command = ["mcp-server-git", "--repository", "{repo}"]

[upstream.tools]
read = {toml_list(GIT_READ if read is None else read)}
propose = {toml_list(GIT_PROPOSE if propose is None else propose)}
preview = {{ git_commit = "git_diff_staged" }}
""")
    return path
