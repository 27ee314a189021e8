"""Demo credentials only on a demo (issue 10, item 5): the demo principals
file (`demo = true`, public tokens such as "demo-alice") is accepted by
`signoff serve` only with --demo or on a database a demo seeded; a server
given --tokens accepts those only; a server taking demo tokens says so
loudly. `signoff serve` as a real process, a real client over HTTP."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import anyio
import httpx2
import pytest

from signoff.policies import PrincipalsLoadError, load_principals, parse_principals
from signoff.server.app import Settings, build_app, example_file
from tests.mcp.conftest import seed
from tests.mcp.http_server import HttpServer, free_port, http_server

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {},
    "clientInfo": {"name": "raw", "version": "0"}}}
HEADERS = {"Accept": "application/json, text/event-stream"}
LOUD = "WARNING: DEMO CREDENTIALS ARE LIVE"
REFUSED = "holds the demo principals (demo = true)"


async def empty(db: Path) -> None:
    """A database of one's own: the schema, no demo seed."""
    async with await build_app(Settings(db=db)):
        pass


def status(server: HttpServer, token: str) -> int:
    headers = {**HEADERS, "Authorization": f"Bearer {token}"}
    return httpx2.post(server.url, json=INITIALIZE, headers=headers, timeout=30).status_code


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "signoff.server.cli", "serve", *args],
                          capture_output=True, text=True, timeout=60, check=False,
                          stdin=subprocess.DEVNULL)


def test_the_examples_principals_files_are_demo_files() -> None:
    assert load_principals(example_file("principals.toml")).demo
    assert not parse_principals('[[principal]]\nid = "a"\nkind = "agent"\ntenants = ["t"]\n').demo
    with pytest.raises(PrincipalsLoadError, match="demo"):
        parse_principals('demo = "yes"\n')


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_a_database_of_ones_own_refuses_the_demo_principals(
        tmp_path: Path, transport: str) -> None:
    db = tmp_path / "own.db"
    anyio.run(empty, db)
    caller = (["--port", str(free_port())] if transport == "http"
              else ["--principal", "user:alice", "--tenant", "acme"])
    result = serve("--db", str(db), "--transport", transport, *caller)
    assert result.returncode == 2, result.stderr
    assert REFUSED in " ".join(result.stderr.split())
    assert "--principals" in result.stderr
    assert result.stdout == ""


def test_a_demo_database_takes_the_demo_tokens_and_says_so_loudly(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    anyio.run(seed, db)  # what `signoff demo` and `serve --demo` write first
    with http_server(db, tmp_path, tokens=False) as server:
        assert status(server, "demo-alice") == 200
        assert status(server, "not-a-token") == 401
        assert LOUD in server.stderr()


def test_demo_flag_makes_any_database_a_demo(tmp_path: Path) -> None:
    db = tmp_path / "own.db"
    anyio.run(empty, db)
    with http_server(db, tmp_path, "--demo", tokens=False) as server:
        assert status(server, "demo-carol") == 200
        assert LOUD in server.stderr()


def test_a_server_given_tokens_accepts_those_only_and_is_quiet(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    anyio.run(seed, db)
    with http_server(db, tmp_path) as server:
        assert status(server, "demo-alice") == 401
        assert status(server, "acme-carol-token") == 200
        assert LOUD not in server.stderr()
        assert "are not accepted over HTTP" in server.stderr()


def test_ones_own_principals_need_no_demo(tmp_path: Path) -> None:
    db = tmp_path / "own.db"
    anyio.run(empty, db)
    principals = tmp_path / "principals.toml"
    principals.write_text(
        '[[principal]]\nid = "user:alice"\nkind = "user"\ntenants = ["acme"]\n'
        f'token_sha256 = "{hashlib.sha256(b"alice-real-token").hexdigest()}"\n')
    with http_server(db, tmp_path, "--principals", str(principals), tokens=False) as server:
        assert status(server, "alice-real-token") == 200
        assert status(server, "demo-alice") == 401
        assert LOUD not in server.stderr()
