"""One settings object for every command, resolved in one place.

Each setting comes from, highest first: the command's flag, its environment
variable, the project file `signoff.toml` in the working directory, the
default. Every command that uses a setting takes the same flag for it and
reads the same variable, so `serve`, `review`, `console`, `trace` and the
rest cannot disagree about the domain, policy or principals in force (a
reviewer judging under another policy than the server's, or a proposal
shown under a domain that does not know its command, was the bug).
`signoff config` shows the result and where each value came from.

Paths are made absolute where they are read: a flag's or variable's against
the working directory, the file's against the file's folder (a domain from a
flag or variable is kept as written, so its errors quote it; it loads against
the working directory all the same). A file named
by a variable or the project file must exist (a flag's is checked by the
option itself); a problem is a ConfigError, which commands turn into exit 2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import typer

from signoff.server.app import (
    DEFAULT_DB,
    Database,
    Settings,
    anchored_domain,
    example_file,
    is_url,
)
from signoff.server.cli.common import escape, fail
from signoff.server.cli.project_file import PROJECT_FILE, ProjectFile, find_project, load_project
from signoff.server.errors import ConfigError

Source = Literal["flag", "env", "file", "default"]
Kind = Literal["db", "domain", "file"]


@dataclass(frozen=True)
class Key:
    name: str
    env: str
    kind: Kind
    about: str
    default: str | None


KEYS: dict[str, Key] = {key.name: key for key in (
    Key("db", "SIGNOFF_DB", "db", "Database file", DEFAULT_DB),
    Key("domain", "SIGNOFF_DOMAIN", "domain",
        "Domain: casework, package.module[:factory], or a module or package path", "casework"),
    Key("policy", "SIGNOFF_POLICY", "file", "Policy file", None),
    Key("principals", "SIGNOFF_PRINCIPALS", "file", "Principals file", None),
    Key("gateway", "SIGNOFF_GATEWAY", "file",
        "Gateway file: the upstream MCP servers behind the gate (pinned with "
        "`signoff gateway pin`)", None),
    Key("sinks", "SIGNOFF_SINKS", "file",
        "Sinks TOML file for the outbox relay (default: the notification consumer only)", None),
    Key("tokens", "SIGNOFF_TOKENS", "file",
        "HTTP: tokens TOML file (token tables: sha256, principal, tenant)", None),
)}
# Where a bundled example's files (else casework's) stand in when nothing names one.
EXAMPLE_FILES = {"policy": "policy.toml", "principals": "principals.toml"}


@dataclass(frozen=True)
class Value:
    """One setting's effective value and where it came from."""

    name: str
    value: str | None
    source: Source
    origin: str  # "--policy", "$SIGNOFF_POLICY", "/work/signoff.toml:3", "default"

    def shown(self) -> str | None:
        """The value as it may be printed: a URL's password masked."""
        return masked(self.value) if self.value is not None else None


@dataclass(frozen=True)
class CliSettings:
    values: Mapping[str, Value]
    project: Path | None  # the signoff.toml read, if there was one

    def value(self, name: str) -> str | None:
        return self.values[name].value

    def given(self, name: str) -> bool:
        """Named by a flag, the environment or the project file (not a default)."""
        return self.values[name].source != "default"

    def path(self, name: str) -> Path | None:
        value = self.value(name)
        return Path(value) if value is not None else None

    @property
    def db(self) -> Database:
        """The SQLite file, or the `postgresql://` URL as given."""
        raw = self.value("db") or DEFAULT_DB
        return raw if is_url(raw) else Path(raw)

    @property
    def domain(self) -> str:
        return self.value("domain") or "casework"

    @property
    def policy(self) -> Path:
        return Path(self.value("policy") or example_file(EXAMPLE_FILES["policy"]))

    @property
    def principals(self) -> Path:
        return Path(self.value("principals") or example_file(EXAMPLE_FILES["principals"]))

    def app(self, **extra: Any) -> Settings:
        """The application's settings: these values, and `extra` (clock, ids...)."""
        return Settings(db=self.db, domain=self.domain, policy=self._path("policy"),
                        principals=self._path("principals"), gateway=self._path("gateway"),
                        **extra)

    def _path(self, name: str) -> Path | None:
        return self.path(name) if name in self.values else None


def masked(value: str) -> str:
    """A URL with its password replaced by ***; anything else as it is."""
    if "://" not in value:
        return value
    parts = urlsplit(value)
    if parts.password is None:
        return value
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def anchored(key: Key, raw: str, base: Path) -> str:
    """`raw` with a relative path in it made absolute against `base`."""
    if key.kind == "domain":
        return anchored_domain(raw, base)
    if key.kind == "db" and "://" in raw:
        return raw
    return str((base / Path(raw).expanduser()).resolve())


def _here(key: Key, raw: str, cwd: Path) -> str:
    return raw if key.kind == "domain" else anchored(key, raw, cwd)


def _default(key: Key, cwd: Path) -> str | None:
    if key.name in EXAMPLE_FILES:
        return str(example_file(EXAMPLE_FILES[key.name]))
    return anchored(key, key.default, cwd) if key.default is not None else None


def _one(key: Key, flag: str | Path | None, env: Mapping[str, str], project: ProjectFile | None,
         cwd: Path) -> Value:
    if flag is not None:
        return Value(key.name, _here(key, str(flag), cwd), "flag", f"--{key.name}")
    if env.get(key.env):
        value = _here(key, env[key.env], cwd)
        if key.kind == "file" and not Path(value).is_file():
            raise ConfigError(f"${key.env} names {value}, which is not a file")
        return Value(key.name, value, "env", f"${key.env}")
    if project is not None and key.name in project.values:
        value = anchored(key, project.values[key.name], project.path.parent)
        if key.kind == "file" and not Path(value).is_file():
            raise project.refuse(key.name, "an existing file", f"no file at {value}")
        return Value(key.name, value, "file", project.where(key.name))
    return Value(key.name, _default(key, cwd), "default", "default")


def resolve(flags: Mapping[str, str | Path | None], *, env: Mapping[str, str] | None = None,
            cwd: Path | None = None) -> CliSettings:
    """The settings named in `flags` (each the flag's value, or None when not
    given). The project file is checked whole, whichever keys a command uses.
    Raises ConfigError."""
    unknown = set(flags) - set(KEYS)
    if unknown:
        raise ValueError(f"not settings: {', '.join(sorted(unknown))}")
    here = cwd or Path.cwd()
    found = find_project(here)
    project = load_project(found, list(KEYS)) if found is not None else None
    environ = os.environ if env is None else env
    values = {name: _one(KEYS[name], flag, environ, project, here)
              for name, flag in flags.items()}
    domain = values["domain"].value if "domain" in values else None
    for name, file in EXAMPLE_FILES.items():  # a bundled domain's own demo files
        if domain is not None and name in values and values[name].source == "default":
            values[name] = Value(name, str(example_file(file, domain)), "default", "default")
    return CliSettings(values=values, project=found)


def settings_of(**flags: str | Path | None) -> CliSettings:
    """`resolve`, or exit 2 with what is wrong (every problem of the file)."""
    try:
        return resolve(flags)
    except ConfigError as exc:
        fail("\n".join(escape(line) for line in exc.message.splitlines()), code=2)
        raise


def _help(name: str) -> str:
    key = KEYS[name]
    default = {"policy": "the casework example's", "principals": "the casework example's",
               "db": f"./{DEFAULT_DB}"}.get(name, key.default)
    tail = f"; default {default}" if default else ""
    return f"{key.about} (else ${key.env}, else `{name}` in ./{PROJECT_FILE}{tail})."


def _file_option(name: str) -> Any:
    return typer.Option(f"--{name}", exists=True, dir_okay=False, resolve_path=True,
                        show_default=False, help=_help(name))


DbFlag = Annotated[str | None, typer.Option("--db", show_default=False, help=_help("db"))]
DomainFlag = Annotated[str | None, typer.Option(
    "--domain", show_default=False, help=_help("domain"))]
PolicyFlag = Annotated[Path | None, _file_option("policy")]
PrincipalsFlag = Annotated[Path | None, _file_option("principals")]
GatewayFlag = Annotated[Path | None, _file_option("gateway")]
SinksFlag = Annotated[Path | None, _file_option("sinks")]
TokensFlag = Annotated[Path | None, _file_option("tokens")]
