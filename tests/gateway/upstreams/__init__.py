"""Upstream MCP servers of the tests' own, and `Upstream`s that start them."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from signoff.server.gateway.model import Upstream

TOYBOX = Path(__file__).resolve().parent / "toybox.py"
# What toybox's upstreams read their secret from (see `toybox(...)`).
TOKEN_VAR = "TOY_TOKEN"
TOKEN = "toy-token-0123456789"


def toybox(name: str = "toy", *, env: Mapping[str, str] | None = None,
           args: tuple[str, ...] = (), **fields: Any) -> Upstream:
    """Toybox over stdio: TOKEN from `env:TOY_TOKEN`, TENANT = {tenant}."""
    declared = {"TOKEN": f"env:{TOKEN_VAR}", "TENANT": "{tenant}", **(env or {})}
    return Upstream(name=name, command=(sys.executable, str(TOYBOX), *args), env=declared,
                    **fields)
