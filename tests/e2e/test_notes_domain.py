"""The smallest domain, end to end, as a user would run their own: a path
given to `signoff serve --domain` (no PYTHONPATH), its own policy and
principals, a real MCP client over stdio, a reviewer on the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[2]
NOTES = ROOT / "examples" / "notes"
FILES = ["--domain", str(NOTES), "--policy", str(NOTES / "policy.toml"),
         "--principals", str(NOTES / "principals.toml")]

WELCOME = "note-welcome"  # the domain's demo data

pytestmark = pytest.mark.anyio


def client(db: Path, cwd: Path) -> Client:
    params = StdioServerParameters(
        command=sys.executable, cwd=str(cwd),
        args=["-m", "signoff.server.cli", "serve", "--db", str(db), *FILES,
              "--principal", "agent:scribe", "--tenant", "home", "--demo"])
    return Client(stdio_client(params), mode="legacy")


def signoff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signoff.server.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False,
                          stdin=subprocess.DEVNULL)


async def call(session: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await session.call_tool(tool, arguments)
    assert result.structured_content is not None, result
    return dict(result.structured_content)


async def test_a_domain_given_by_path_runs_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "notes.db"
    async with client(db, tmp_path) as session:  # cwd is not the checkout
        tools = {t.name for t in (await session.list_tools()).tools}
        assert {"create_note", "archive_note", "list_notes", "get_note",
                "get_proposal"} <= tools

        created = await call(session, "create_note", title="Milk", body="2 litres",
                             confidence=0.9, evidence_refs=["the user said so"])
        assert (created["outcome"], created["status"]) == ("accepted", "executed")
        note_id = created["aggregate_id"]
        listed = await call(session, "list_notes")
        assert sorted(n["note_id"] for n in listed["notes"]) == sorted([note_id, WELCOME])

        waiting = await call(session, "archive_note", note_id=note_id, expected_version=1,
                             confidence=0.8)
        assert waiting["status"] == "pending_approval"

    shown = signoff("review", "show", waiting["proposal_id"], "--db", str(db), *FILES,
                    "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    approved = signoff("review", "approve", waiting["proposal_id"], "--as", "user:sam",
                       "--db", str(db), *FILES, cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr

    async with client(db, tmp_path) as session:
        note = (await call(session, "get_note", note_id=note_id))["notes"][0]
        assert note["archived"] is True
        listed = await call(session, "list_notes")
        assert [n["note_id"] for n in listed["notes"]] == [WELCOME]
        receipt = await call(session, "get_proposal", proposal_id=waiting["proposal_id"])
        assert receipt["status"] == "executed"


async def test_free_form_evidence_is_recorded_and_shown_as_unchecked(tmp_path: Path) -> None:
    db = tmp_path / "notes.db"
    async with client(db, tmp_path) as session:
        created = await call(session, "create_note", title="Call mum", confidence=1.0,
                             evidence_refs=["calendar: sunday", "chat 2026-11-30"])
    assert created["status"] == "executed"
    shown = signoff("review", "show", created["proposal_id"], "--db", str(db), *FILES,
                    "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert view["evidence"] == [
        {"ref": "calendar: sunday", "found": None, "title": None, "summary": None},
        {"ref": "chat 2026-11-30", "found": None, "title": None, "summary": None}]


def test_a_domain_path_that_is_not_a_module_is_a_clear_error(tmp_path: Path) -> None:
    result = signoff("serve", "--db", str(tmp_path / "x.db"), "--domain", "nowhere/domain.py",
                     "--principals", str(NOTES / "principals.toml"), "--principal",
                     "agent:scribe", "--tenant", "home", "--demo", cwd=tmp_path)
    assert result.returncode == 2
    said = " ".join(result.stderr.split())
    assert "cannot load domain" in said
    assert "nowhere/domain.py" in said
    assert not (tmp_path / "x.db").exists()
