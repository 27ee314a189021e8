"""`signoff gateway pin` (and `status`, which needs a pin) as a user runs
them: a process, the real `mcp-server-git` on a scratch repository.

Starting an upstream takes seconds, so the pin is made once for the module
and each drifted variant is checked in one `status` run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.gateway.cli import git_gateway, scratch_repo, signoff

RESERVED = Path(__file__).resolve().parent / "reserved_upstream.py"


@pytest.fixture(scope="module")
def pinned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A gateway file for a scratch repository, pinned; and pin's stdout."""
    base = tmp_path_factory.mktemp("pinned")
    gateway = git_gateway(base / "gateway.toml", scratch_repo(base / "repo"))
    result = signoff("gateway", "pin", str(gateway), "--json")
    assert result.returncode == 0, result.stderr
    return gateway, result.stdout


def test_pin_writes_a_lock_of_the_exposed_tools(pinned: tuple[Path, str]) -> None:
    gateway, _ = pinned
    lock = json.loads(gateway.with_name("gateway.toml.lock").read_text())
    tools = lock["upstreams"]["repo"]["tools"]
    assert {"git_status", "git_log", "git_diff_staged", "git_add", "git_commit"} <= set(tools)
    assert "git_reset" not in tools  # in neither list: not exposed, not pinned
    assert tools["git_status"]["exposure"] == "read"
    assert tools["git_commit"]["exposure"] == "propose"
    assert len(tools["git_commit"]["digest"]) == 64


def test_pin_prints_each_upstreams_read_and_propose_tools(pinned: tuple[Path, str]) -> None:
    _, stdout = pinned
    [line] = stdout.splitlines()
    doc = json.loads(line)
    assert doc["upstream"] == "repo"
    assert doc["tenant"] == "pin"  # serves every tenant: the placeholder
    assert doc["propose"] == ["git_add", "git_commit"]
    assert "git_status" in doc["read"]
    assert doc["warnings"] == []


def test_a_tool_that_cannot_be_proposed_fails_the_pin_and_writes_nothing(
        tmp_path: Path) -> None:
    gateway = tmp_path / "gateway.toml"
    gateway.write_text(f"""\
[[upstream]]
name = "notes"
command = [{json.dumps(sys.executable)}, {json.dumps(str(RESERVED))}]

[upstream.tools]
propose = ["note"]
""")
    result = signoff("gateway", "pin", str(gateway))
    assert result.returncode == 1
    assert "tool 'note': cannot be a propose tool" in result.stderr
    assert "rationale" in result.stderr
    assert not gateway.with_name("gateway.toml.lock").exists()


def test_a_missing_environment_variable_exits_2_naming_it_before_starting(
        tmp_path: Path) -> None:
    gateway = tmp_path / "gateway.toml"
    gateway.write_text("""\
[[upstream]]
name = "repo"
command = ["mcp-server-git-that-is-never-started"]
env = { TOKEN = "env:SIGNOFF_TEST_UNSET_TOKEN" }

[upstream.tools]
read = ["git_status"]
""")
    result = signoff("gateway", "pin", str(gateway), env={"SIGNOFF_TEST_UNSET_TOKEN": ""})
    assert result.returncode == 2
    assert "SIGNOFF_TEST_UNSET_TOKEN is not set" in result.stderr
    assert "not found" not in result.stderr  # nothing was started
    assert not gateway.with_name("gateway.toml.lock").exists()


def test_an_upstream_that_does_not_start_is_named_with_its_stderr(tmp_path: Path) -> None:
    gateway = tmp_path / "gateway.toml"
    gateway.write_text(f"""\
[[upstream]]
name = "repo"
command = ["mcp-server-git", "--repository", "{tmp_path}/{{tenant}}"]

[upstream.tools]
read = ["git_status"]
""")
    result = signoff("gateway", "pin", str(gateway), "--tenant", "acme")
    assert result.returncode == 1
    stderr = " ".join(result.stderr.split())
    assert "upstream 'repo': could not list its tools" in stderr
    assert f"{tmp_path}/acme does not exist" in stderr  # its own words, from its stderr
    assert not gateway.with_name("gateway.toml.lock").exists()
