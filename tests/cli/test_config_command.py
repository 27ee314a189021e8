"""`signoff config`: each effective setting and where it came from; secrets
never printed; a bad project file exits 2 with file:line for every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.worlds import NOTES, invoke, one_line, signoff, write_project


def test_config_json_shows_each_setting_and_its_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(tmp_path, domain=str(NOTES), principals="people.toml", db="notes.db")
    (tmp_path / "people.toml").write_text("\n")
    result = invoke(monkeypatch, tmp_path, "config", "--json",
                    "--policy", str(NOTES / "policy.toml"),
                    SIGNOFF_DB=str(tmp_path / "env.db"))
    assert result.exit_code == 0, result.output
    rows = {row["setting"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert list(rows) == ["db", "domain", "policy", "principals", "gateway", "sinks", "tokens"]
    file = tmp_path / "signoff.toml"
    assert rows["db"] == {"setting": "db", "value": str(tmp_path / "env.db"), "source": "env",
                          "from": "$SIGNOFF_DB", "env": "SIGNOFF_DB"}
    assert (rows["domain"]["source"], rows["domain"]["from"]) == ("file", f"{file}:1")
    assert rows["domain"]["value"] == str(NOTES)
    assert (rows["policy"]["source"], rows["policy"]["from"]) == ("flag", "--policy")
    assert rows["principals"]["value"] == str(tmp_path / "people.toml")
    assert (rows["gateway"]["source"], rows["gateway"]["value"]) == ("default", None)

    human = invoke(monkeypatch, tmp_path, "config")
    assert human.exit_code == 0, human.output
    assert f"(file: {file}:1)" in human.stdout
    assert f"project file: {file}" in human.stdout


def test_config_masks_a_database_url_password(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://signoff:hunter2@db.internal/signoff"
    for args in (["config", "--json"], ["config"]):
        result = invoke(monkeypatch, tmp_path, *args, SIGNOFF_DB=url,
                        SIGNOFF_JWT_SECRET="jwt-secret-not-a-setting")
        assert result.exit_code == 0, result.output
        assert "hunter2" not in result.output
        assert "jwt-secret-not-a-setting" not in result.output
        assert "postgresql://signoff:***@db.internal/signoff" in result.output


@pytest.mark.parametrize("command", [
    ["config"], ["review", "list"], ["events", "list"], ["trace", "prop_x"],
    ["serve", "--principal", "agent:triage", "--tenant", "acme"],
    ["policy", "lint", "policy.toml"], ["install-claude", "--dry-run"], ["demo"],
])
def test_a_bad_project_file_exits_2_with_file_and_line(tmp_path: Path,
                                                       command: list[str]) -> None:
    (tmp_path / "policy.toml").write_text("\n")
    (tmp_path / "signoff.toml").write_text('domain = "casework"\n\npolcy = "policy.toml"\n')
    result = signoff(*command, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    said = one_line(result.stderr)
    assert f"{tmp_path / 'signoff.toml'}:3: key 'polcy': expected a known key" in said
    assert not (tmp_path / "signoff.db").exists()


def test_a_variable_naming_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = signoff("review", "list", cwd=tmp_path, SIGNOFF_PRINCIPALS="nowhere.toml")
    assert result.returncode == 2
    assert f"$SIGNOFF_PRINCIPALS names {tmp_path / 'nowhere.toml'}" in one_line(result.stderr)
