"""The casework domain with a brief's summary marked sensitive: a domain
whose field must never leave signoff in an export (`--domain` loads it by path)."""

from __future__ import annotations

from dataclasses import replace

from pydantic import Field

from signoff.examples.casework import build_domain as casework
from signoff.examples.casework.payloads import CreateBrief, Text
from signoff.server import Domain


class SensitiveBrief(CreateBrief):
    summary: Text = Field(description="The analyst brief.", json_schema_extra={"sensitive": True})


def build_domain() -> Domain:
    domain = casework()
    commands = tuple(replace(c, payload=SensitiveBrief) if c.name == "brief.create" else c
                     for c in domain.commands)
    return replace(domain, commands=commands)
