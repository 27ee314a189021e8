"""`signoff demo assistant` plays its story on a fresh database, and refuses
to overwrite an allow-list it did not write."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from signoff.server.ops import play_assistant

pytestmark = pytest.mark.anyio


def demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signoff.server.cli", "demo", "assistant",
                           *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False, stdin=subprocess.DEVNULL)


async def test_the_session_goes_as_the_story_says(tmp_path: Path) -> None:
    steps = await play_assistant(tmp_path / "demo.db")
    by_tool = [(s.tool, s.result.get("status")) for s in steps if s.tool]
    assert by_tool[1:5] == [("save_memory", "executed"), ("save_memory", "pending_approval"),
                            ("save_memory", "rejected"), ("call_api", "executed")]
    [review] = [s for s in steps if s.kind == "review"]
    assert (review.result["voter"], review.result["status"]) == ("user:sam", "executed")
    first, last = (s.result for s in steps if s.tool == "build_context")
    assert "allergic to peanuts" not in first["context"]
    assert "allergic to peanuts" in last["context"]
    assert "sk-live" not in last["context"]
    assert steps[-1].result == {"requests": 1}


def test_the_cli_plays_it_and_keeps_an_allow_list_it_did_not_write(tmp_path: Path) -> None:
    played = demo("--db", str(tmp_path / "demo.db"), "--json", cwd=tmp_path)
    assert played.returncode == 0, played.stderr
    steps = [json.loads(line) for line in played.stdout.splitlines()]
    assert steps[-1]["result"] == {"requests": 1}

    other = tmp_path / "other"
    other.mkdir()
    (other / "endpoints.toml").write_text("# mine\n")
    refused = demo("--db", str(other / "demo.db"), cwd=other)
    assert refused.returncode == 2
    assert "endpoints.toml already exists" in refused.stderr
    assert (other / "endpoints.toml").read_text() == "# mine\n"
