"""The registries the composition root fills: which commands exist, and which
outbox consumers act on committed events.

Services, the MCP surface, the policy loader and the review pages ask these,
never a `Domain`: today the domain fills them, tomorrow the gateway adds its
own command types and its invoker beside the domain's, and nothing that
reads a registry needs to know where an entry came from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from signoff.server.domain import CommandType, DomainError
from signoff.store.records import OutboxMessage


class CommandRegistry:
    """Every command type agents may propose, by name and by tool name."""

    def __init__(self) -> None:
        self._commands: dict[str, CommandType[Any, Any]] = {}
        self._sources: dict[str, str] = {}
        self._tools: dict[str, str] = {}

    def add(self, commands: Iterable[CommandType[Any, Any]], *, source: str) -> None:
        """Register `commands` from `source` (a domain's or an upstream's name).
        A command type or tool name already taken is a configuration error:
        two sources must never silently shadow each other."""
        for command in commands:
            if command.name in self._sources:
                raise DomainError(f"command type {command.name!r} of {source} is already "
                                  f"registered by {self._sources[command.name]}")
            if command.tool in self._tools:
                owner = self._sources[self._tools[command.tool]]
                raise DomainError(f"tool {command.tool!r} of {source} is already registered "
                                  f"by {owner}")
            self._commands[command.name] = command
            self._sources[command.name] = source
            self._tools[command.tool] = command.name

    def get(self, command_type: str) -> CommandType[Any, Any] | None:
        return self._commands.get(command_type)

    def by_tool(self, tool: str) -> CommandType[Any, Any] | None:
        name = self._tools.get(tool)
        return self._commands[name] if name is not None else None

    def source_of(self, command_type: str) -> str | None:
        return self._sources.get(command_type)

    def names(self) -> list[str]:
        return list(self._commands)

    def __iter__(self) -> Iterator[CommandType[Any, Any]]:
        return iter(self._commands.values())

    def __len__(self) -> int:
        return len(self._commands)


class OutboxConsumer(Protocol):
    """Acts on committed events the relay hands it, at least once per message;
    a consumer makes repeats harmless itself (inbox, idempotency keys).
    `internal` consumers get messages unredacted; `timeout` bounds one
    `publish` (0: none of its own)."""

    name: str
    timeout: float
    internal: bool

    def wants(self, message: OutboxMessage) -> bool: ...

    async def publish(self, message: OutboxMessage) -> None: ...

    async def flush(self) -> None: ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class ConsumerPlace:
    """Where a consumer runs: the folder it keeps its files in (the
    database's) and its own table of the delivery file, if any."""

    folder: Path
    options: Mapping[str, Any]


ConsumerFactory = Callable[[ConsumerPlace], OutboxConsumer]


class ConsumerRegistry:
    """Outbox consumers by name, built when a relay starts (each relay its
    own instances: a consumer may hold files or connections)."""

    def __init__(self) -> None:
        self._factories: dict[str, ConsumerFactory] = {}
        self._reserved: dict[str, frozenset[str]] = {}

    def add(self, name: str, factory: ConsumerFactory) -> None:
        if name in self._factories:
            raise DomainError(f"consumer {name!r} is already registered")
        self._factories[name] = factory

    def reserve(self, name: str, topics: Iterable[str]) -> None:
        """Messages of `topics` are for the consumer `name` only: a relay that
        does not run it must leave them (to the relay that does) rather than
        publish them elsewhere and mark them done."""
        self._reserved[name] = frozenset(topics)

    def left_alone(self) -> frozenset[str]:
        """The reserved topics whose consumer is not registered here."""
        return frozenset().union(*(topics for name, topics in self._reserved.items()
                                   if name not in self._factories))

    def names(self) -> list[str]:
        return list(self._factories)

    def build(
        self, folder: Path, options: Mapping[str, Mapping[str, Any]]
    ) -> list[OutboxConsumer]:
        """Every consumer not disabled (`enabled = false` in its table)."""
        built = []
        for name, factory in self._factories.items():
            own = options.get(name, {})
            if own.get("enabled", True):
                built.append(factory(ConsumerPlace(folder=folder, options=own)))
        return built
