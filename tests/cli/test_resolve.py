"""How one setting is resolved: flag, else environment, else signoff.toml,
else the default; relative paths against where they were written; a bad
project file refused with file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from signoff.server.app import example_file
from signoff.server.cli.project_file import ProjectFileError
from signoff.server.cli.settings import KEYS, masked, resolve
from signoff.server.errors import ConfigError
from tests.cli.worlds import NOTES, write_project


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Three policy files, one per level that can name it."""
    named = {level: tmp_path / f"{level}.toml" for level in ("flag", "env", "file")}
    for path in named.values():
        path.write_text("# a policy\n")
    return named


def test_a_flag_beats_the_environment_beats_the_file_beats_the_default(
        tmp_path: Path, files: dict[str, Path]) -> None:
    write_project(tmp_path, policy="file.toml")
    env = {"SIGNOFF_POLICY": str(files["env"])}
    levels = [
        (resolve({"policy": files["flag"]}, env=env, cwd=tmp_path), "flag", files["flag"]),
        (resolve({"policy": None}, env=env, cwd=tmp_path), "env", files["env"]),
        (resolve({"policy": None}, env={}, cwd=tmp_path), "file", files["file"]),
    ]
    for settings, source, path in levels:
        assert settings.values["policy"].source == source
        assert settings.policy == path
    origins = [settings.values["policy"].origin for settings, _, _ in levels]
    assert origins == ["--policy", "$SIGNOFF_POLICY", f"{tmp_path / 'signoff.toml'}:1"]

    (tmp_path / "signoff.toml").unlink()
    default = resolve({"policy": None}, env={}, cwd=tmp_path)
    assert (default.values["policy"].source, default.policy) == (
        "default", example_file("policy.toml"))
    assert not default.given("policy")


def test_every_setting_has_its_variable_and_its_key(tmp_path: Path) -> None:
    for name in ("gateway", "sinks", "tokens", "principals"):
        (tmp_path / f"{name}.toml").write_text("\n")
    env = {KEYS[name].env: str(tmp_path / f"{name}.toml")
           for name in ("gateway", "sinks", "tokens", "principals")}
    env |= {"SIGNOFF_DB": str(tmp_path / "env.db"), "SIGNOFF_DOMAIN": "examples/notes"}
    from_env = resolve(dict.fromkeys(KEYS), env=env, cwd=tmp_path)
    assert {v.source for v in from_env.values.values()} == {"env", "default"}
    assert [n for n, v in from_env.values.items() if v.source == "default"] == ["policy"]
    assert from_env.db == tmp_path / "env.db"
    assert from_env.domain == "examples/notes"  # as written: errors quote what was given

    write_project(tmp_path, **{name: f"{name}.toml" for name in
                               ("gateway", "sinks", "tokens", "principals")},
                  db="file.db", domain=str(NOTES))
    from_file = resolve(dict.fromkeys(KEYS), env={}, cwd=tmp_path)
    assert [n for n, v in from_file.values.items() if v.source != "file"] == ["policy"]
    assert from_file.path("sinks") == tmp_path / "sinks.toml"
    assert from_file.app().gateway == tmp_path / "gateway.toml"


def test_paths_in_the_file_are_relative_to_it(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "conf").mkdir(parents=True)
    (project / "conf" / "people.toml").write_text("\n")
    (project / "domains").mkdir()
    (project / "domains" / "mine.py").write_text("\n")
    write_project(project, principals="conf/people.toml", db="data/signoff.db",
                  domain="domains/mine.py:make")
    settings = resolve({"principals": None, "db": None, "domain": None}, env={}, cwd=project)
    assert settings.principals == project / "conf" / "people.toml"
    assert settings.db == project / "data" / "signoff.db"
    assert settings.domain == f"{project / 'domains' / 'mine.py'}:make"
    assert resolve({"domain": "casework"}, env={}, cwd=project).domain == "casework"


def test_only_the_settings_asked_for_are_resolved(tmp_path: Path) -> None:
    env = {"SIGNOFF_SINKS": str(tmp_path / "missing.toml")}
    settings = resolve({"db": None}, env=env, cwd=tmp_path)
    assert list(settings.values) == ["db"]
    with pytest.raises(ConfigError, match=r"\$SIGNOFF_SINKS names .*missing.toml"):
        resolve({"sinks": None}, env=env, cwd=tmp_path)


@pytest.mark.parametrize(("text", "line", "key", "expected"), [
    ('domain = "casework"\npolcy = "p.toml"\n', 2, "polcy", "a known key"),
    ('db = 3\n', 1, "db", "a non-empty string"),
    ('[domain]\nname = "x"\n', 1, "domain", "a non-empty string"),
    ('domain = "casework"\npolicy = "nowhere.toml"\n', 2, "policy", "an existing file"),
    ('domain = \n', 1, None, "valid TOML"),
])
def test_a_bad_project_file_names_file_line_and_key(
        tmp_path: Path, text: str, line: int, key: str | None, expected: str) -> None:
    (tmp_path / "signoff.toml").write_text(text)
    with pytest.raises(ProjectFileError) as caught:
        resolve(dict.fromkeys(KEYS), env={}, cwd=tmp_path)
    [problem] = caught.value.problems
    assert (problem.source, problem.line, problem.key) == (
        str(tmp_path / "signoff.toml"), line, key)
    assert expected in problem.expected


def test_a_bad_project_file_fails_whatever_the_command_uses(tmp_path: Path) -> None:
    (tmp_path / "signoff.toml").write_text('db = "x.db"\ndomian = "casework"\n')
    with pytest.raises(ProjectFileError, match=r"signoff.toml:2: key 'domian'"):
        resolve({"db": None}, env={}, cwd=tmp_path)


def test_a_url_password_is_masked() -> None:
    assert masked("postgresql://app:hunter2@db.internal:5432/signoff") == \
        "postgresql://app:***@db.internal:5432/signoff"
    assert masked("postgresql://db.internal/signoff") == "postgresql://db.internal/signoff"
    assert masked("/var/lib/signoff.db") == "/var/lib/signoff.db"
