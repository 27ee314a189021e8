"""The policy package's errors: one base class, and load errors that point at a place.

A policy file is written by people and read by a gate that must never guess, so
every load problem names the file, the line (when the text tells us), the rule or
entry, the key, and what was expected. All problems found in one pass are kept,
so `signoff policy lint` can show them together instead of one per run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class PolicyError(Exception):
    """Base of every error this package raises."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a file, located as precisely as the text allows."""

    source: str
    line: int | None
    # The `[[rule]]` id (or principal id, scenario name) the problem sits in.
    entry: str | None
    key: str | None
    expected: str
    got: str | None = None
    # What kind of entry `entry` names: "rule", "principal", "scenario".
    entry_kind: str = "rule"

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        parts = [where]
        if self.entry is not None:
            parts.append(f"{self.entry_kind} {self.entry!r}")
        if self.key is not None:
            parts.append(f"key {self.key!r}")
        detail = f"expected {self.expected}"
        if self.got is not None:
            detail += f", got {self.got}"
        parts.append(detail)
        return ": ".join(parts)


class LoadError(PolicyError):
    """A file failed to load. `problems` holds every problem found, first one first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("a LoadError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def source(self) -> str:
        return self.problems[0].source

    @property
    def line(self) -> int | None:
        return self.problems[0].line

    @property
    def entry(self) -> str | None:
        return self.problems[0].entry

    @property
    def key(self) -> str | None:
        return self.problems[0].key


class PolicyLoadError(LoadError):
    """A policy file is malformed; the gate keeps whatever policy it had."""

    @property
    def rule_id(self) -> str | None:
        return self.entry


class PrincipalsLoadError(LoadError):
    """A principals file is malformed."""


class ScenarioLoadError(LoadError):
    """A scenarios file (for `signoff policy test`) is malformed."""


class NotAMemberError(PolicyError):
    """A principal was asked to act in a tenant it does not belong to."""
