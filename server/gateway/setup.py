"""What every command knows of the gateway from its files alone: the gateway
file and its lock give the command types, without starting an upstream or
reading a secret (`review`, `console`, `policy`, `trace` need no more)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signoff.server.domain import CommandType
from signoff.server.gateway.calls import ToolCall
from signoff.server.gateway.commands import propose_command
from signoff.server.gateway.config import load_gateway
from signoff.server.gateway.lockfile import load_lock
from signoff.server.gateway.model import GatewayConfig
from signoff.server.gateway.pinned import Lock, PinnedTool


@dataclass(frozen=True)
class GatewaySetup:
    config: GatewayConfig
    lock: Lock
    commands: tuple[CommandType[Any, ToolCall], ...]

    @property
    def source(self) -> str:
        return f"gateway {self.config.path.name}"

    def pinned(self, upstream: str, tool: str) -> PinnedTool | None:
        return self.lock.tool(upstream, tool)


def load_setup(path: Path) -> GatewaySetup:
    """Raises ConfigError (file, line and key) for a bad file, and when the
    catalogue was never pinned."""
    config = load_gateway(path)
    lock = load_lock(config)
    commands = []
    for tool in lock.proposable:
        upstream = config.upstream(tool.upstream)
        if upstream is not None:
            commands.append(propose_command(upstream, tool))
    return GatewaySetup(config, lock, tuple(commands))
