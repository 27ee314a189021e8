"""`signoff policy replay` on the casework demo's database, as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from signoff.server.app import example_file

DRAFTS_ALLOWED = 'id = "notice.draft.allow"\ncommands = ["notice.create_draft"]\neffect = "allow"'
ESCALATION_ASKS = ('effect = "ask"\nreason = "escalating a case needs a supervisor\'s approval"\n'
                   'approvers = { roles = ["supervisor"], count = 1 }')


def signoff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signoff.server.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)


def variant(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = example_file("policy.toml").read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return path


def test_replay_reports_a_stricter_and_a_looser_policy(tmp_path: Path) -> None:
    assert signoff("demo", cwd=tmp_path).returncode == 0
    stricter = variant(tmp_path, "stricter.toml", DRAFTS_ALLOWED,
                       DRAFTS_ALLOWED.replace('"allow"', '"deny"'))
    result = signoff("policy", "replay", str(stricter), "--json", "--fail-on-loosen",
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    *changes, summary = (json.loads(line) for line in result.stdout.splitlines())
    assert [(c["command_type"], c["before"], c["after"]) for c in changes] == [
        ("notice.create_draft", "allow", "deny")]
    assert summary["transitions"] == {"allow->deny": 1}

    looser = variant(tmp_path, "looser.toml", ESCALATION_ASKS,
                     'effect = "allow"\nreason = "trust the agent"')
    result = signoff("policy", "replay", str(looser), "--fail-on-loosen", cwd=tmp_path)
    assert result.returncode == 1  # the escalation that waited would now run at once
    assert "ask (escalate.ask-supervisor) -> allow" in result.stdout


def test_a_bad_window_is_bad_usage(tmp_path: Path) -> None:
    result = signoff("policy", "replay", str(example_file("policy.toml")), "--since", "soon",
                     cwd=tmp_path)
    assert result.returncode == 2
