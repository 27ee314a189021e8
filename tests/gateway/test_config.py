"""A gateway file loads into a GatewayConfig, or fails naming file, line and
key for every problem at once; secrets come only from the environment."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from signoff.server.errors import ConfigError
from signoff.server.gateway.config import (
    GatewayConfigError,
    load_gateway,
    missing_env,
    parse_gateway,
    resolve,
)
from signoff.server.gateway.model import ToolLists

GOOD = """\
[[upstream]]
name = "repo"
command = ["mcp-server-git", "--repository", "/srv/{tenant}"]
env = { GIT_AUTHOR_NAME = "signoff {tenant}", TOKEN = "env:REPO_TOKEN" }
tenants = ["acme"]
timeout = "90s"

[upstream.tools]
read = ["git_status", "git_log", "git_diff*", "git_show"]
propose = ["git_add", "git_commit", "git_create_branch"]
idempotent = ["git_add"]
preview = { git_commit = "git_diff_staged" }

[[upstream]]
name = "docs"
url = "https://docs.example.test/mcp"
headers = { Authorization = "env:DOCS_TOKEN" }
shared = true
timeout = 5

[upstream.tools]
read = ["search"]
"""

HTTP = """\
[[upstream]]
name = "web"
url = "https://example.test/mcp"
"""
STDIO = """\
[[upstream]]
name = "repo"
command = ["server"]
"""
TOOLS = """
[upstream.tools]
read = ["look"]
propose = ["write"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_spec_example_loads(tmp_path: Path) -> None:
    config = load_gateway(write(tmp_path, GOOD))
    repo, docs = config.upstreams
    assert repo.name == "repo"
    assert repo.transport == "stdio"
    assert repo.line == 1
    assert repo.command == ("mcp-server-git", "--repository", "/srv/{tenant}")
    assert repo.env == {"GIT_AUTHOR_NAME": "signoff {tenant}", "TOKEN": "env:REPO_TOKEN"}
    assert repo.tenants == ("acme",)
    assert not repo.shared
    assert repo.timeout_seconds == 90
    assert repo.tools == ToolLists(
        read=("git_status", "git_log", "git_diff*", "git_show"),
        propose=("git_add", "git_commit", "git_create_branch"),
        idempotent=("git_add",), preview={"git_commit": "git_diff_staged"})
    assert docs.transport == "http"
    assert docs.url == "https://docs.example.test/mcp"
    assert docs.headers == {"Authorization": "env:DOCS_TOKEN"}
    assert docs.line == 14
    assert docs.shared
    assert docs.tenants is None
    assert docs.timeout_seconds == 5
    assert config.lock_path == tmp_path / "gateway.toml.lock"


@pytest.mark.parametrize(("timeout", "seconds"), [
    ('"500ms"', 0.5), ('"2m"', 120), ('"1h"', 3600), ("0.25", 0.25), ("30", 30)])
def test_a_timeout_is_a_duration_or_seconds(timeout: str, seconds: float) -> None:
    config = parse_gateway(STDIO + f"timeout = {timeout}\n" + TOOLS, Path("g.toml"))
    assert config.upstreams[0].timeout_seconds == seconds


# (case id, file text, line, upstream or None, key, words of the expectation)
CASES: list[tuple[str, str, int, str | None, str, str]] = [
    ("not TOML", STDIO + "timeout = = 1\n" + TOOLS, 4, None, "", "valid TOML"),
    ("unknown top-level key", STDIO + TOOLS + "\n[extra]\nx = 1\n", 9, None, "extra",
     "a known key"),
    ("unknown upstream key", STDIO + 'colour = "red"\n' + TOOLS, 4, "repo", "colour",
     "a known key"),
    ("unknown tools key", STDIO + TOOLS + "write = []\n", 8, "repo", "tools.write",
     "a known key"),
    ("bad name", STDIO.replace('"repo"', '"Repo-1"') + TOOLS, 2, "#1", "name",
     "lowercase letters, digits and _"),
    ("no name", STDIO.replace('name = "repo"\n', "") + TOOLS, 1, "#1", "name",
     "this key to be present"),
    ("duplicate name", STDIO + TOOLS + "\n" + STDIO + TOOLS, 10, "repo", "name",
     "a unique upstream name (already used at line 1)"),
    ("command and url", STDIO + 'url = "https://x.test/mcp"\n' + TOOLS, 1, "repo", "command",
     "exactly one of command (stdio) and url (HTTP)"),
    ("neither command nor url", '[[upstream]]\nname = "repo"\n' + TOOLS, 1, "repo", "command",
     "exactly one of command"),
    ("command a string", STDIO.replace('["server"]', '"server --x"') + TOOLS, 3, "repo",
     "command", "an argv array"),
    ("command empty", STDIO.replace('["server"]', "[]") + TOOLS, 3, "repo", "command",
     "an argv array"),
    ("url not http", HTTP.replace("https://", "ftp://") + TOOLS, 3, "web", "url",
     "an http:// or https:// URL"),
    ("header literal", HTTP + 'headers = { Authorization = "Bearer s3cr3t" }\n' + TOOLS, 4,
     "web", "headers.Authorization", "an env:NAME reference"),
    ("header bad reference", HTTP + 'headers = { X = "env:1X" }\n' + TOOLS, 4, "web",
     "headers.X", "env:NAME with NAME an environment variable name"),
    ("headers on stdio", STDIO + 'headers = { X = "env:X" }\n' + TOOLS, 4, "repo", "headers",
     "headers only on an HTTP (url) upstream"),
    ("env on http", HTTP + 'env = { X = "y" }\n' + TOOLS, 4, "web", "env",
     "env only on a stdio (command) upstream"),
    ("env value a number", STDIO + "env = { PORT = 8080 }\n" + TOOLS, 4, "repo", "env.PORT",
     "a string (literal or env:NAME)"),
    ("env bad variable name", STDIO + 'env = { "MY-VAR" = "x" }\n' + TOOLS, 4, "repo",
     "env.MY-VAR", "a valid environment variable name"),
    ("env not a table", STDIO + 'env = "X=1"\n' + TOOLS, 4, "repo", "env", "a table"),
    ("tenants a string", STDIO + 'tenants = "acme"\n' + TOOLS, 4, "repo", "tenants",
     "a non-empty array of strings"),
    ("shared not a bool", STDIO + 'shared = "yes"\n' + TOOLS, 4, "repo", "shared",
     "true or false"),
    ("timeout words", STDIO + 'timeout = "forever"\n' + TOOLS, 4, "repo", "timeout",
     "a duration from 0.1s to 1h"),
    ("timeout zero", STDIO + "timeout = 0\n" + TOOLS, 4, "repo", "timeout", "a duration"),
    ("timeout too long", STDIO + 'timeout = "2h"\n' + TOOLS, 4, "repo", "timeout",
     "a duration"),
    ("timeout a bool", STDIO + "timeout = true\n" + TOOLS, 4, "repo", "timeout", "a duration"),
    ("no tools", STDIO, 1, "repo", "tools", "an [upstream.tools] table"),
    ("tools not a table", STDIO + 'tools = "all"\n', 4, "repo", "tools", "a table"),
    ("read a string", STDIO + '[upstream.tools]\nread = "look"\n', 5, "repo", "tools.read",
     "an array of strings"),
    ("no read nor propose", STDIO + "[upstream.tools]\nread = []\n", 4, "repo", "tools.read",
     "at least one tool in read or propose"),
    ("bad tool name", STDIO + '[upstream.tools]\nread = ["git status"]\n', 5, "repo",
     "tools.read", "tool names or glob patterns"),
    ("tool in read and propose", STDIO + TOOLS.replace('["look"]', '["look", "write"]'), 7,
     "repo", "tools.propose", "each tool in only one of read and propose, got 'write' in both"),
    ("pattern in read and propose", STDIO + TOOLS.replace(
        '["look"]', '["w*"]').replace('["write"]', '["w*"]'), 7, "repo", "tools.propose",
     "'w*' in both"),
    ("propose name under a read pattern", STDIO + TOOLS.replace('["look"]', '["*"]'), 7, "repo",
     "tools.propose", "'write' in both"),
    ("idempotent not proposed", STDIO + TOOLS + 'idempotent = ["look"]\n', 8, "repo",
     "tools.idempotent", "only tools listed in propose"),
    ("preview of a read tool", STDIO + TOOLS + 'preview = { look = "look" }\n', 8, "repo",
     "tools.preview.look", "a tool listed in propose"),
    ("preview target not read", STDIO + TOOLS + 'preview = { write = "other" }\n', 8, "repo",
     "tools.preview.write", "a tool listed in read, got 'other'"),
    ("preview target a pattern", STDIO + TOOLS + 'preview = { write = "lo*" }\n', 8, "repo",
     "tools.preview.write", "the name of one read tool"),
    ("preview target proposed", STDIO + TOOLS + 'preview = { write = "write" }\n', 8, "repo",
     "tools.preview.write", "a tool listed in read"),
    ("shared with {tenant}", STDIO.replace('["server"]', '["server", "/srv/{tenant}"]')
     + "shared = true\n" + TOOLS, 3, "repo", "command", "no {tenant} in a shared upstream"),
    ("shared with {tenant} in env", STDIO + 'shared = true\nenv = { HOME = "/h/{tenant}" }\n'
     + TOOLS, 5, "repo", "env.HOME", "no {tenant} in a shared upstream"),
]


@pytest.mark.parametrize(("text", "line", "upstream", "key", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_gateway_file_names_file_line_upstream_and_key(
    tmp_path: Path, text: str, line: int, upstream: str | None, key: str, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(GatewayConfigError) as caught:
        load_gateway(path)
    error = caught.value
    assert isinstance(error, ConfigError)
    assert error.code == "config_error"
    first = error.problems[0]
    message = str(first)
    assert message.startswith(f"{path}:{line}: "), str(error)
    if upstream is not None:
        assert f"upstream {upstream!r}" in message
    if key:
        assert f"key {key!r}" in message, str(error)
    assert expected in message, str(error)
    assert error.details[0] == {"file": str(path), "line": line, "upstream": first.entry,
                                "key": first.key, "expected": first.expected, "got": first.got}


def test_a_literal_secret_is_never_echoed() -> None:
    text = (HTTP.replace("https://", "https://alice:pa55word@")
            + 'headers = { Authorization = "Bearer s3cr3t" }\n' + TOOLS)
    with pytest.raises(GatewayConfigError) as caught:
        parse_gateway(text, Path("g.toml"))
    assert [p.key for p in caught.value.problems] == ["url", "headers.Authorization"]
    assert "credentials" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)
    assert "pa55word" not in str(caught.value)


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    text = textwrap.dedent("""\
        [[upstream]]
        name = "repo"
        command = ["server"]
        timeout = "soon"

        [upstream.tools]
        read = ["look", "write"]
        propose = ["write"]
        idempotent = ["look"]

        [[upstream]]
        name = "Bad"
        url = "https://x.test/"
        unknown = 1
        """)
    with pytest.raises(GatewayConfigError) as caught:
        parse_gateway(text, Path("g.toml"))
    assert [(p.line, p.entry, p.key) for p in caught.value.problems] == [
        (4, "repo", "timeout"), (8, "repo", "tools.propose"), (9, "repo", "tools.idempotent"),
        (11, "#2", "tools"), (12, "#2", "name"), (14, "#2", "unknown")]


def test_a_file_without_upstreams_fails_to_load() -> None:
    with pytest.raises(GatewayConfigError) as caught:
        parse_gateway("# nothing yet\n", Path("g.toml"))
    assert str(caught.value) == ("g.toml: key 'upstream': expected at least one [[upstream]] "
                                 "table, got nothing")


def test_an_unreadable_file_fails_to_load(tmp_path: Path) -> None:
    with pytest.raises(GatewayConfigError, match="readable UTF-8"):
        load_gateway(tmp_path / "absent.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(GatewayConfigError, match="readable UTF-8"):
        load_gateway(tmp_path / "bin.toml")


def test_loading_reads_no_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REPO_TOKEN", raising=False)
    monkeypatch.delenv("DOCS_TOKEN", raising=False)
    assert len(load_gateway(write(tmp_path, GOOD)).upstreams) == 2


def test_missing_env_names_every_unset_reference(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    config = load_gateway(path)
    assert missing_env(config, {"DOCS_TOKEN": ""}) == [
        f"{path}:1: upstream 'repo': key 'env.TOKEN': environment variable REPO_TOKEN is not set",
        f"{path}:14: upstream 'docs': key 'headers.Authorization': environment variable "
        "DOCS_TOKEN is not set",
    ]
    assert missing_env(config, {"REPO_TOKEN": "r", "DOCS_TOKEN": "d"}) == []


def test_resolve_substitutes_the_tenant_and_the_environment(tmp_path: Path) -> None:
    config = load_gateway(write(tmp_path, GOOD))
    environ = {"REPO_TOKEN": "tok-123", "DOCS_TOKEN": "Bearer doc-456", "HOME": "/root"}
    repo = resolve(config.upstreams[0], "acme", environ)
    assert repo.tenant == "acme"
    assert repo.transport == "stdio"
    assert repo.argv == ("mcp-server-git", "--repository", "/srv/acme")
    # Only what the file declares: nothing else of the caller's environment.
    assert repo.env == {"GIT_AUTHOR_NAME": "signoff acme", "TOKEN": "tok-123"}
    assert repo.secrets == frozenset({"tok-123"})
    assert repo.timeout_seconds == 90
    docs = resolve(config.upstreams[1], "globex", environ)
    assert docs.tenant is None  # shared: one connection for every tenant
    assert docs.headers == {"Authorization": "Bearer doc-456"}
    assert docs.env == {}
    assert docs.url == "https://docs.example.test/mcp"


def test_resolve_refuses_what_it_cannot_resolve(tmp_path: Path) -> None:
    repo = load_gateway(write(tmp_path, GOOD)).upstreams[0]
    with pytest.raises(ConfigError, match="does not serve tenant 'globex'"):
        resolve(repo, "globex", {"REPO_TOKEN": "x"})
    with pytest.raises(ConfigError, match="runs once per tenant"):
        resolve(repo, None, {"REPO_TOKEN": "x"})
    with pytest.raises(ConfigError, match="REPO_TOKEN is not set"):
        resolve(repo, "acme", {})
    with pytest.raises(ConfigError, match="cannot name an upstream process"):
        resolve(repo, "../etc", {"REPO_TOKEN": "x"})


def test_a_resolved_upstream_never_shows_its_secrets(tmp_path: Path) -> None:
    config = load_gateway(write(tmp_path, GOOD.replace(
        "https://docs.example.test/mcp", "https://docs.example.test/mcp?key=q-789")))
    environ = {"REPO_TOKEN": "tok-123", "DOCS_TOKEN": "Bearer doc-456"}
    repo = resolve(config.upstreams[0], "acme", environ)
    docs = resolve(config.upstreams[1], None, environ)
    for shown in (repr(repo), str(repo), f"{repo}", repr(docs), str([docs])):
        for secret in ("tok-123", "doc-456", "q-789", "signoff acme"):
            assert secret not in shown
    assert repr(repo) == ("ResolvedUpstream(name='repo', tenant='acme', transport='stdio', "
                          "target='mcp-server-git', env=[GIT_AUTHOR_NAME, TOKEN], headers=[])")
    assert "target='https://docs.example.test'" in repr(docs)
    assert "headers=[Authorization]" in repr(docs)
