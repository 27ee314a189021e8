"""The allow-list of endpoints `call_api` may reach, as the consumer reads it.

The policy decides who may call what; this file decides where a request may
go at all, and the consumer enforces it itself, whatever the policy said:

    # endpoints.toml, beside the database (or named by $SIGNOFF_ASSISTANT_ENDPOINTS)
    [[endpoint]]
    url = "https://api.example.org"   # scheme, host and port: all three must match
    # private = true     # may resolve to a private, loopback or link-local address
    # max_bytes = 8192   # the most of an answer that is read and recorded
    # timeout = 10.0     # seconds for the whole request

Without a file nothing is allowed. It is read on every call, so an edit
applies to the next call without a restart.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from signoff.examples.assistant.calls import MAX_RECORDED_BODY

ENDPOINTS_ENV: Final = "SIGNOFF_ASSISTANT_ENDPOINTS"
ENDPOINTS_FILE: Final = "endpoints.toml"
DEFAULT_PORTS: Final = {"http": 80, "https": 443}


class EndpointsError(ValueError):
    """The allow-list file cannot be read; no call goes out until it is fixed."""


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, the port made explicit."""
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    return scheme, host, parts.port or DEFAULT_PORTS.get(scheme, 0)


class Endpoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    url: str
    private: bool = False
    max_bytes: int = Field(default=MAX_RECORDED_BODY, ge=1, le=MAX_RECORDED_BODY)
    timeout: float = Field(default=10.0, gt=0, le=60)

    @field_validator("url")
    @classmethod
    def _origin_only(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("must be http://host[:port] or https://host[:port]")
        if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
            raise ValueError("names an origin only: scheme, host and port")
        return url

    @property
    def origin(self) -> tuple[str, str, int]:
        return origin(self.url)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    endpoint: list[Endpoint] = Field(default_factory=list)


@dataclass(frozen=True)
class Endpoints:
    allowed: tuple[Endpoint, ...] = ()
    source: str = "no endpoints file"

    def match(self, url: str) -> Endpoint | None:
        wanted = origin(url)
        return next((e for e in self.allowed if e.origin == wanted), None)


def endpoints_path(folder: Path) -> Path:
    named = os.environ.get(ENDPOINTS_ENV)
    return Path(named) if named else folder / ENDPOINTS_FILE


def load_endpoints(folder: Path) -> Endpoints:
    path = endpoints_path(folder)
    if not path.is_file():
        return Endpoints(source=f"no {path}")
    try:
        data = _File.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise EndpointsError(f"{path}: {exc}") from exc
    return Endpoints(tuple(data.endpoint), source=str(path))
