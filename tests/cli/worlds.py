"""What the settings tests share: the real CLI run in a directory with a
clean environment (no SIGNOFF_* of the machine running the tests), and two
projects whose proposals only their own settings can show: the notes
example, and a gateway whose pinned tool is a command no domain has."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp_types import Tool
from typer.testing import CliRunner, Result

from signoff.server.app import Settings, build_app
from signoff.server.clock import SequentialIds
from signoff.server.gateway import load_gateway, pin, write_lock
from tests.conftest import principal

ROOT = Path(__file__).resolve().parents[2]
NOTES = ROOT / "examples" / "notes"
WELCOME = "note-welcome"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any SIGNOFF_* setting, plus `extra`."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("SIGNOFF_")}
    return {**kept, "COLUMNS": "400", **extra}


def signoff(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The real CLI as a process in `cwd`, with only the SIGNOFF_* given."""
    return subprocess.run([sys.executable, "-m", "signoff.server.cli", *args], cwd=cwd,
                          env=clean_env(**env), capture_output=True, text=True, timeout=120,
                          check=False, stdin=subprocess.DEVNULL)


def invoke(monkeypatch: pytest.MonkeyPatch, cwd: Path, *args: str, **env: str) -> Result:
    """The real CLI in this process (faster), in `cwd`, with only the SIGNOFF_* given."""
    monkeypatch.chdir(cwd)
    for name in [k for k in os.environ if k.startswith("SIGNOFF_")]:
        monkeypatch.delenv(name)
    from signoff.server.cli import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": "400", **env})


def one_line(text: str) -> str:
    return " ".join(text.split())


def write_project(folder: Path, **settings: str) -> Path:
    """`signoff.toml` in `folder` with these settings."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "signoff.toml"
    path.write_text("".join(f'{key} = "{value}"\n' for key, value in settings.items()))
    return path


async def notes_proposal(db: Path) -> str:
    """A seeded notes database with an archive of the welcome note pending
    the keeper: a proposal the casework domain knows nothing of."""
    settings = Settings(db=db, domain=str(NOTES), policy=NOTES / "policy.toml",
                        principals=NOTES / "principals.toml", ids=SequentialIds())
    async with await build_app(settings) as app:
        await app.seed_if_empty()
        receipt = await app.proposals.submit(
            principal(app, "agent:scribe", "home"), "note.archive",
            {"note_id": WELCOME, "expected_version": 1, "confidence": 0.8,
             "rationale": "the user is done with it"})
    assert receipt.status == "pending_approval", receipt
    assert receipt.proposal_id is not None
    return receipt.proposal_id


GATEWAY = """\
[[upstream]]
name = "box"
command = ["never-started"]

[upstream.tools]
propose = ["tally"]
"""
POLICY = """\
[queries]
default = { kinds = ["agent", "user"] }

[[rule]]
id = "tally.ask"
commands = ["tool.box.tally"]
effect = "ask"
reason = "every call waits for a reviewer"
approvers = { roles = ["reviewer"], count = 1 }
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
"""
TALLY: dict[str, Any] = {"type": "object", "properties": {"label": {"type": "string"}}}


@dataclass(frozen=True)
class GatewayProject:
    folder: Path
    gateway: Path
    policy: Path
    principals: Path
    db: Path
    proposal_id: str


def gateway_project(folder: Path) -> GatewayProject:
    """A gateway pinned from a listing written here (no upstream runs) and
    a database holding one proposed call of its tool."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"gateway.toml": GATEWAY, "policy.toml": POLICY, "principals.toml": PRINCIPALS}
    for name, text in files.items():
        (folder / name).write_text(text)
    gateway = folder / "gateway.toml"
    config = load_gateway(gateway)
    listed = {"box": [Tool(name="tally", description="Count one.", input_schema=TALLY)]}
    write_lock(pin(config, listed), config.lock_path)
    db = folder / "gateway.db"
    settings = Settings(db=db, gateway=gateway, policy=folder / "policy.toml",
                        principals=folder / "principals.toml", ids=SequentialIds())
    return GatewayProject(folder, gateway, settings.policy_path(), settings.principals_path(),
                          db, anyio.run(_propose_call, settings))


async def _propose_call(settings: Settings) -> str:
    async with await build_app(settings) as app:
        receipt = await app.proposals.submit(
            principal(app, "agent:claude", "local"), "tool.box.tally",
            {"label": "one", "confidence": 0.9, "rationale": "asked by the user"})
    assert receipt.status == "pending_approval", receipt
    assert receipt.proposal_id is not None
    return receipt.proposal_id
