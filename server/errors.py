"""Errors the application raises. Their messages reach models and reviewers
verbatim, so they are short, specific and never carry internals."""

from __future__ import annotations

from typing import Any


class SignoffError(Exception):
    code = "error"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class InvalidInput(SignoffError):
    code = "validation_error"


class NotFound(SignoffError):
    """Absent, or in another tenant: the caller cannot tell which, by design."""

    code = "not_found"


class Forbidden(SignoffError):
    code = "forbidden"


class Refused(SignoffError):
    """A valid request the current state does not allow (e.g. voting on a
    proposal that is no longer pending)."""

    code = "refused"


class ConfigError(SignoffError):
    code = "config_error"
