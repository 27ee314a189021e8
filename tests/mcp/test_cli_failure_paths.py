"""How the CLI fails and what it prints around the happy path, as a user
meets it in a shell: a port already taken, a pipe closed early, output sent
to a file, `--version`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import pytest
import typer

from signoff.server.cli.listen import startup_failure
from signoff.server.ops.demo import AGENT, TENANT


def signoff(*args: str, stdout: int = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    """The CLI as a process whose output is not a terminal, at no set width."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([sys.executable, "-m", "signoff.server.cli", *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL, env=env)


@contextmanager
def port_taken() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_version_prints_the_package_version() -> None:
    result = signoff("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"signoff {version('signoff')}\n"


@pytest.mark.parametrize("command", [
    ["console"],
    ["serve", "--transport", "http"],
])
def test_a_port_in_use_is_one_clear_line_and_exit_1(db: Path, command: list[str]) -> None:
    with port_taken() as port:
        result = signoff(*command, "--db", str(db), "--port", str(port))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert errors == [f"error: port {port} on 127.0.0.1 is already in use"]
    assert "http://" not in result.stdout + result.stderr  # it never said it was serving


@pytest.mark.slow
@pytest.mark.parametrize("output", [["--json"], []])
def test_a_demo_piped_into_a_closed_pipe_exits_quietly(tmp_path: Path, output: list[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first line: `| head -0`
    try:
        result = signoff("demo", "--db", str(tmp_path / "piped.db"), *output, stdout=write)
    finally:
        os.close(write)
    assert result.stderr == ""
    assert result.returncode == 1  # as click's own broken-pipe handling exits


@pytest.mark.slow
def test_demo_output_sent_to_a_file_keeps_each_command_on_one_line(tmp_path: Path) -> None:
    # A long path, as a real home directory gives: wrapped at 80 columns, it
    # would split the next-step commands in the middle of an argument.
    folder = tmp_path / ("a-rather-long-folder-name-" * 3)
    folder.mkdir()
    db = folder / "demo.db"
    result = signoff("demo", "--db", str(db))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"  signoff serve --db {db} --principal {AGENT} --tenant {TENANT}" \
           "    # the MCP server (stdio)" in lines
    assert f"  signoff review list --db {db}    # the approval queue" in lines
    assert f"Claude Desktop: signoff install-claude --db {db}   " \
           "(then restart Claude Desktop)" in lines


def test_a_port_taken_after_the_check_still_ends_in_exit_1() -> None:
    """uvicorn's own startup failure, raised inside serve's task group."""
    with pytest.raises(typer.Exit) as exit_info, startup_failure("127.0.0.1", 8765):
        raise BaseExceptionGroup("unhandled errors in a TaskGroup", [SystemExit(3)])
    assert exit_info.value.exit_code == 1
    with pytest.raises(BaseExceptionGroup), startup_failure("127.0.0.1", 8765):
        raise BaseExceptionGroup("other", [SystemExit(3), ValueError("a real bug")])
