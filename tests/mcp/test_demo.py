"""`signoff demo` from a fresh directory, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from signoff.server.ops.trace import Trace


def demo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "signoff.server.cli", "demo", *args], cwd=cwd,
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "200"})


@pytest.mark.slow
def test_demo_plays_to_the_end_and_refuses_to_reuse_a_database(tmp_path: Path) -> None:
    played = demo(tmp_path)
    assert played.returncode == 0, played.stderr
    out = played.stdout
    for expected in ("1.", "list_cases", "create_notice_draft", "pending_approval",
                     "user:alice", "case.escalated", "executed", "status proposal executed",
                     "signoff serve --db", "signoff console --db", "install-claude"):
        assert expected in out, expected
    db = tmp_path / "signoff.db"
    assert db.stat().st_size > 0

    again = demo(tmp_path)
    assert again.returncode == 2
    assert "not empty" in again.stderr
    assert again.stdout == ""


@pytest.mark.slow
def test_demo_json_steps(tmp_path: Path) -> None:
    played = demo(tmp_path, "--db", str(tmp_path / "demo.db"), "--json")
    assert played.returncode == 0, played.stderr
    steps = [json.loads(line) for line in played.stdout.splitlines()]
    assert [s["step"] for s in steps] == list(range(1, len(steps) + 1))
    by_tool = {s["tool"]: s for s in steps if s["tool"]}
    assert by_tool["create_notice_draft"]["result"]["status"] == "executed"
    assert by_tool["propose_case_escalation"]["result"]["status"] == "pending_approval"
    assert by_tool["get_proposal"]["result"]["status"] == "executed"
    trace = Trace.model_validate(steps[-1]["result"])  # the same trace `signoff trace` shows
    of_kind = {kind: [s for s in trace.steps if s.kind == kind]
               for kind in ("vote", "event", "tool_call", "decision")}
    assert [v.actor for v in of_kind["vote"]] == ["user:alice"]
    assert ["case.escalated" in e.label for e in of_kind["event"]] == [True]
    assert len(of_kind["tool_call"]) == len(by_tool)
    assert [d.details["rule_id"] for d in of_kind["decision"]] == ["escalate.ask-supervisor"]
    assert not any(s["is_error"] for s in steps)
