"""`signoff demo gateway` plays its story against the real mcp-server-git."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_the_gateway_demo_commits_once_after_the_reviewer_approves(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "signoff.server.cli", "demo", "gateway", "--json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False,
        stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    steps = [json.loads(line) for line in result.stdout.splitlines()]
    by_tool = {s["tool"]: s for s in steps if s["tool"]}
    assert by_tool["repo_git_add"]["result"]["status"] == "executed"
    assert by_tool["repo_git_commit"]["result"]["status"] == "pending_approval"
    assert by_tool["get_proposal"]["result"]["status"] == "executed"
    [review] = [s for s in steps if s["kind"] == "review"]
    assert review["result"]["will_call"] == "approving will call repo.git_commit once"
    assert "+# Notes" in review["result"]["preview"]
    log = subprocess.run(["git", "-C", str(tmp_path / "signoff-demo-gateway" / "repo"), "log",
                          "--format=%s"], capture_output=True, text=True, check=True).stdout
    assert log.splitlines() == ["Add notes", "Initial commit"]
    again = subprocess.run(
        [sys.executable, "-m", "signoff.server.cli", "demo", "gateway"], cwd=tmp_path,
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    assert again.returncode == 2  # an existing demo is not silently mixed into
