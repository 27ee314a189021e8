"""`signoff.toml`: a project's settings, in the working directory.

Top-level keys only, one per setting, each a string (`domain =
"examples/notes"`, `policy = "policy.toml"`); a relative path in it is
relative to the file, not to wherever a command runs. A key that is not a
setting, or a value that is not a non-empty string, is refused with file,
line and key (all problems at once), as the policy and gateway loaders do:
a misspelt `polcy` must not silently leave the demo policy in force.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from signoff.policies.errors import LoadError, Problem
from signoff.policies.toml_checks import Reporter, read_toml
from signoff.server.errors import ConfigError

PROJECT_FILE = "signoff.toml"


class ProjectFileError(ConfigError):
    """The project file is wrong; `problems` holds every problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems), details=[
            {"file": p.source, "line": p.line, "key": p.key, "expected": p.expected,
             "got": p.got} for p in self.problems])


class _Unparsed(LoadError):
    """What `read_toml` raises here; turned into a ProjectFileError."""


@dataclass(frozen=True)
class ProjectFile:
    """The settings a project file gives: each value as written, and its line."""

    path: Path
    values: Mapping[str, str]
    lines: Mapping[str, int | None]

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.path}:{line}" if line is not None else str(self.path)

    def refuse(self, key: str, expected: str, got: str) -> ProjectFileError:
        """A problem with a value that parsed but does not hold (a missing file)."""
        return ProjectFileError([Problem(str(self.path), self.lines.get(key), None, key,
                                         expected, got, "setting")])


def find_project(cwd: Path) -> Path | None:
    candidate = cwd / PROJECT_FILE
    return candidate.resolve() if candidate.is_file() else None


def load_project(path: Path, keys: Collection[str]) -> ProjectFile:
    """The file's settings; raises ProjectFileError naming file, line and key."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectFileError([Problem(source, None, None, None, "a readable UTF-8 file",
                                        type(exc).__name__, "setting")]) from None
    try:
        data = read_toml(text, source, _Unparsed)
    except _Unparsed as exc:
        raise ProjectFileError(exc.problems) from None
    report = Reporter(source, text, entry_kind="setting")
    report.keys(data, list(keys), (), None)
    values = {key: value for key in keys
              if (value := report.string(data, key, (), None, required=False)) is not None}
    if report.problems:
        raise ProjectFileError(sorted(report.problems,
                                      key=lambda p: (p.line is None, p.line or 0)))
    return ProjectFile(path=path, values=values,
                       lines={key: report.lines.find((key,)) for key in values})
