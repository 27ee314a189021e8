"""Every command reads its settings the same way: the environment and
signoff.toml reach `serve`, `review`, `console`, `trace` and the rest, and
`install-claude` writes what it was given into Claude Desktop's entry."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from signoff.server.app import Settings, build_app
from signoff.server.clock import SequentialIds
from tests.cli.worlds import (
    NOTES,
    clean_env,
    gateway_project,
    invoke,
    notes_proposal,
    one_line,
    signoff,
    write_project,
)

NOTES_FILES = {"domain": str(NOTES), "policy": str(NOTES / "policy.toml"),
               "principals": str(NOTES / "principals.toml")}
NOTES_ENV = {f"SIGNOFF_{key.upper()}": value for key, value in NOTES_FILES.items()}


async def _seed(db: Path) -> None:
    async with await build_app(Settings(db=db, ids=SequentialIds())) as app:
        await app.seed_if_empty()


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    db = tmp_path / "casework.db"
    anyio.run(_seed, db)
    return db


def _free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


COMMANDS = [
    ["review", "list"], ["review", "show", "prop_x"],
    ["review", "approve", "prop_x", "--as", "user:alice"],
    ["review", "reject", "prop_x", "--as", "user:alice", "--reason", "no"],
    ["trace", "prop_x"], ["events", "list"], ["audit", "verify"], ["audit", "anchor"],
    ["projections", "rebuild"], ["outbox", "status"], ["outbox", "retry", "msg_x"],
    ["relay", "--once"], ["console", "--port", "PORT"], ["policy", "lint", "POLICY"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_every_command_reads_the_database_and_domain_from_the_environment(
        tmp_path: Path, seeded: Path, monkeypatch: pytest.MonkeyPatch,
        command: list[str]) -> None:
    # The database is found (no "no database"), and the domain it names is
    # the one loaded: a module that does not exist, so each command says so.
    policy = str(NOTES / "policy.toml")
    args = [policy if a == "POLICY" else _free_port() if a == "PORT" else a for a in command]
    result = invoke(monkeypatch, tmp_path, *args, SIGNOFF_DB=str(seeded),
                    SIGNOFF_DOMAIN="nowhere/domain.py")
    assert result.exit_code == 2, result.output
    said = one_line(result.output)
    assert "cannot load domain 'nowhere/domain.py'" in said
    assert "no database" not in said


def test_serve_reads_the_database_and_domain_from_the_environment(
        tmp_path: Path, seeded: Path) -> None:
    result = signoff("serve", "--principal", "agent:triage", "--tenant", "acme", cwd=tmp_path,
                     SIGNOFF_DB=str(seeded), SIGNOFF_DOMAIN="nowhere/domain.py")
    assert result.returncode == 2, result.stderr
    assert "cannot load domain 'nowhere/domain.py'" in one_line(result.stderr)
    assert result.stdout == ""


def _notes_client(cwd: Path, db: Path, env: dict[str, str]) -> Client:
    params = StdioServerParameters(
        command=sys.executable, cwd=str(cwd), env=clean_env(SIGNOFF_DB=str(db), **env),
        args=["-m", "signoff.server.cli", "serve", "--principal", "agent:scribe",
              "--tenant", "home", "--demo"])
    return Client(stdio_client(params), mode="legacy")


@pytest.mark.anyio
@pytest.mark.parametrize("where", ["env", "file"])
async def test_serve_takes_domain_policy_and_principals_from_env_or_file(
        tmp_path: Path, where: str) -> None:
    # agent:scribe exists only in the notes principals: serve vouches for
    # it before the database is opened, so the principals file must be read.
    if where == "file":
        write_project(tmp_path, **NOTES_FILES)
    db = tmp_path / "notes.db"
    async with _notes_client(tmp_path, db, NOTES_ENV if where == "env" else {}) as session:
        tools = {t.name for t in (await session.list_tools()).tools}
        assert {"create_note", "archive_note"} <= tools
        created = await session.call_tool("create_note", {
            "title": "Milk", "confidence": 0.9, "evidence_refs": ["the user said so"]})
    assert created.structured_content is not None
    assert created.structured_content["status"] == "executed"  # the notes policy allows it


def test_serve_without_the_notes_settings_refuses_the_notes_agent(tmp_path: Path) -> None:
    result = signoff("serve", "--principal", "agent:scribe", "--tenant", "home", "--demo",
                     "--db", str(tmp_path / "x.db"), cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown principal 'agent:scribe'" in one_line(result.stderr)


@pytest.mark.parametrize("where", ["env", "file"])
def test_review_show_of_a_notes_proposal_takes_the_domain_from_env_or_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    db = tmp_path / "notes.db"
    proposal_id = anyio.run(notes_proposal, db)
    if where == "file":
        write_project(tmp_path, db="notes.db", **NOTES_FILES)
    env = {"SIGNOFF_DB": str(db), **NOTES_ENV} if where == "env" else {}
    result = invoke(monkeypatch, tmp_path, "review", "show", proposal_id, "--json", **env)
    assert result.exit_code == 0, result.output
    change = json.loads(result.stdout)["change"]
    assert (change["outcome"], change["reason"]) == ("events", "")
    assert change["changes"] == [{"field": "archived", "before": False, "after": True}]

    human = invoke(monkeypatch, tmp_path, "review", "show", proposal_id, **env)
    assert human.exit_code == 0, human.output
    assert "no longer registered" not in human.stdout


def test_review_show_under_another_domain_cannot_preview_the_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "notes.db"
    proposal_id = anyio.run(notes_proposal, db)
    result = invoke(monkeypatch, tmp_path, "review", "show", proposal_id, "--db", str(db),
                    "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["change"]["reason"] == \
        "note.archive is no longer registered"


@pytest.mark.parametrize("where", ["env", "file"])
def test_review_show_of_a_gateway_call_takes_the_gateway_from_env_or_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    world = gateway_project(tmp_path / "project")
    files = {"db": "gateway.db", "policy": "policy.toml", "principals": "principals.toml"}
    if where == "file":
        write_project(world.folder, gateway="gateway.toml", **files)
        env = {}
    else:
        write_project(world.folder, **files)
        env = {"SIGNOFF_GATEWAY": str(world.gateway)}
    result = invoke(monkeypatch, world.folder, "review", "show", world.proposal_id, "--json",
                    **env)
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert (view["command_type"], view["payload"]) == ("tool.box.tally", {"label": "one"})
    assert view["tool"] == "box_tally"


def test_review_without_the_gateway_cannot_load_its_policy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    world = gateway_project(tmp_path / "project")
    write_project(world.folder, db="gateway.db", policy="policy.toml",
                  principals="principals.toml")
    result = invoke(monkeypatch, world.folder, "review", "show", world.proposal_id)
    assert result.exit_code == 2
    assert "tool.box.tally" in one_line(result.output)


def _entry(output: str) -> list[str]:
    [entry] = json.loads(output)["mcpServers"].values()
    return list(entry["args"])


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


@pytest.mark.parametrize("where", ["env", "file"])
def test_install_claude_writes_the_settings_it_was_given_into_the_entry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    world = gateway_project(tmp_path / "project")
    given = {"domain": str(NOTES), "policy": "policy.toml", "principals": "principals.toml",
             "gateway": "gateway.toml", "db": "gateway.db"}
    if where == "file":
        write_project(world.folder, **given)
        env = {}
    else:
        env = {f"SIGNOFF_{key.upper()}": value for key, value in given.items()}
    result = invoke(monkeypatch, world.folder, "install-claude", "--dry-run", "--config",
                    str(tmp_path / "claude.json"), **env)
    assert result.exit_code == 0, result.output
    args = _entry(result.stdout)
    assert _option(args, "--db") == str(world.db)
    assert _option(args, "--domain") == str(NOTES)
    assert _option(args, "--policy") == str(world.policy)
    assert _option(args, "--principals") == str(world.principals)
    assert _option(args, "--gateway") == str(world.gateway)


def test_install_claude_makes_a_domain_path_absolute_and_leaves_defaults_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "x.db"
    db.touch()
    relative = invoke(monkeypatch, NOTES.parent, "install-claude", "--dry-run", "--db",
                      str(db), "--domain", "./notes")
    assert relative.exit_code == 0, relative.output
    assert _option(_entry(relative.stdout), "--domain") == str(NOTES)

    plain = invoke(monkeypatch, tmp_path, "install-claude", "--dry-run", "--db", str(db))
    assert plain.exit_code == 0, plain.output
    assert _entry(plain.stdout) == ["serve", "--db", str(db), "--principal", "agent:triage",
                                    "--tenant", "acme"]
