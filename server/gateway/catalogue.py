"""The pinned catalogue: which upstream tools signoff exposes, exactly as
they were when someone pinned them.

`pin` turns what the upstreams list now into a `Lock` (refusing what cannot
work: a propose tool that cannot take signoff's arguments, a tool both read
and proposed, two tools exposed under one name); `drift` compares a lock
with what the upstreams list later; `exposed` is what `serve` offers: only
pinned tools whose digest still matches. New and drifted tools are withheld
until pinned again, because their description is what reviewers and
policies were shown.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import mcp_types

from signoff.server.errors import ConfigError
from signoff.server.gateway.lockfile import load_lock, write_lock
from signoff.server.gateway.model import GatewayConfig, Upstream
from signoff.server.gateway.pinned import Lock, PinnedTool, listed_digest
from signoff.server.gateway.proposable import why_not_proposable

__all__ = ["CatalogueError", "Drift", "Lock", "PinnedTool", "ToolChange", "UpstreamDrift",
           "drift", "exposed", "load_lock", "pin", "write_lock"]

Listed = Mapping[str, Sequence[mcp_types.Tool]]


class CatalogueError(ConfigError):
    """The upstreams' tools cannot be pinned as the gateway file says;
    `problems` names each upstream and tool."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems),
                         details=[{"message": p} for p in self.problems])


def pin(config: GatewayConfig, listed: Listed) -> Lock:
    """Pin, per upstream of `config`, the tools its lists expose out of
    `listed` (upstream name -> its tools/list). Raises CatalogueError with
    every problem; patterns that match nothing are the lock's warnings."""
    problems: list[str] = []
    warnings: list[str] = []
    tools: list[PinnedTool] = []
    for upstream in config.upstreams:
        where = f"{config.path}" + (f":{upstream.line}" if upstream.line else "") + \
            f": upstream {upstream.name!r}"
        if upstream.name not in listed:
            problems.append(f"{where}: its tools were not listed (is it running?)")
            continue
        found, wrong = _pin_upstream(upstream, listed[upstream.name])
        tools += found
        problems += [f"{where}: {p}" for p in wrong]
        warnings += [f"{where}: {w}" for w in _unmatched(upstream, listed[upstream.name])]
    problems += _collisions(tools)
    if problems:
        raise CatalogueError(problems)
    return Lock(config=config, tools=tuple(tools), warnings=tuple(warnings))


def _pin_upstream(upstream: Upstream,
                  listing: Sequence[mcp_types.Tool]) -> tuple[list[PinnedTool], list[str]]:
    lists = upstream.tools
    pinned: list[PinnedTool] = []
    problems: list[str] = []
    seen: set[str] = set()
    for tool in listing:
        if tool.name in seen:
            problems.append(f"tool {tool.name!r}: listed twice by the upstream")
            continue
        seen.add(tool.name)
        exposure = lists.exposure(tool.name)
        if exposure is None:
            continue
        both = _matching(tool.name, lists.read)
        if both and exposure == "propose":
            problems.append(f"tool {tool.name!r}: matches read {both[0]!r} and propose "
                            f"{_matching(tool.name, lists.propose)[0]!r}: list it in one only")
            continue
        if lists.is_idempotent(tool.name) and exposure != "propose":
            problems.append(f"tool {tool.name!r}: is idempotent but not a propose tool")
            continue
        reason = why_not_proposable(tool.input_schema) if exposure == "propose" else None
        if reason is not None:
            problems.append(f"tool {tool.name!r}: cannot be a propose tool: {reason}")
            continue
        pinned.append(PinnedTool.of(upstream.name, tool, exposure))
    problems += _previews(upstream, pinned)
    return pinned, problems


def _matching(name: str, patterns: Sequence[str]) -> list[str]:
    return [p for p in patterns if fnmatch.fnmatchcase(name, p)]


def _previews(upstream: Upstream, pinned: Sequence[PinnedTool]) -> list[str]:
    """A preview that names a read tool the upstream does not have could never run."""
    reads = {t.name for t in pinned if t.exposure == "read"}
    return [f"tools.preview {tool!r}: {target!r} is not a read tool the upstream lists"
            for tool, target in upstream.tools.preview.items() if target not in reads]


def _unmatched(upstream: Upstream, listing: Sequence[mcp_types.Tool]) -> list[str]:
    """Patterns and names that match no listed tool: a typo, or a tool the
    upstream dropped; worth saying, not worth refusing."""
    names = [t.name for t in listing]
    lists = upstream.tools
    return [f"tools.{key} {pattern!r} matches no tool the upstream lists"
            for key, patterns in (("read", lists.read), ("propose", lists.propose),
                                  ("idempotent", lists.idempotent),
                                  ("preview", tuple(lists.preview)))
            for pattern in patterns if not any(fnmatch.fnmatchcase(n, pattern) for n in names)]


def _collisions(tools: Sequence[PinnedTool]) -> list[str]:
    """`a` + `b_c` and `a_b` + `c` are both exposed as `a_b_c`."""
    owners: dict[str, PinnedTool] = {}
    problems = []
    for tool in tools:
        other = owners.setdefault(tool.exposed_name, tool)
        if other is not tool:
            problems.append(f"tool {tool.exposed_name!r}: exposed by both {other.upstream!r} "
                            f"(tool {other.name!r}) and {tool.upstream!r} (tool {tool.name!r}); "
                            "rename an upstream")
    return problems


@dataclass(frozen=True)
class ToolChange:
    name: str
    # Which of description, input_schema, annotations differ from the pin.
    fields: tuple[str, ...]


@dataclass(frozen=True)
class UpstreamDrift:
    upstream: str
    # False when its tools could not be listed: nothing below is known then,
    # and its pinned tools are `unverified`.
    listed: bool
    matching: tuple[str, ...] = ()
    changed: tuple[ToolChange, ...] = ()
    new: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()
    unverified: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return self.listed and not (self.changed or self.new or self.gone)


@dataclass(frozen=True)
class Drift:
    upstreams: tuple[UpstreamDrift, ...]

    @property
    def clean(self) -> bool:
        return all(u.clean for u in self.upstreams)

    def to_json(self) -> dict[str, Any]:
        """Plain lists and dicts, for `gateway status --json`."""
        return {"clean": self.clean,
                "upstreams": [{**asdict(u), "clean": u.clean} for u in self.upstreams]}


def drift(lock: Lock, listed: Listed) -> Drift:
    """Per upstream of the lock's gateway file: which pinned tools still
    match, which changed, which are new (exposed by the lists, not pinned)
    and which are gone."""
    return Drift(tuple(_drift(lock, upstream, listed.get(upstream.name))
                       for upstream in lock.config.upstreams))


def _drift(lock: Lock, upstream: Upstream,
           listing: Sequence[mcp_types.Tool] | None) -> UpstreamDrift:
    pinned = {t.name: t for t in lock.of(upstream.name)}
    if listing is None:
        return UpstreamDrift(upstream.name, listed=False, unverified=tuple(sorted(pinned)))
    now = {t.name: t for t in listing}
    changed = tuple(ToolChange(name, _changed_fields(pinned[name], now[name]))
                    for name in sorted(pinned.keys() & now.keys())
                    if listed_digest(now[name]) != pinned[name].digest)
    drifted = {c.name for c in changed}
    return UpstreamDrift(
        upstream.name, listed=True,
        matching=tuple(sorted((pinned.keys() & now.keys()) - drifted)),
        changed=changed,
        new=tuple(sorted(n for n in now.keys() - pinned.keys()
                         if upstream.tools.exposure(n) is not None)),
        gone=tuple(sorted(pinned.keys() - now.keys())))


def _changed_fields(pinned: PinnedTool, tool: mcp_types.Tool) -> tuple[str, ...]:
    now = PinnedTool.of(pinned.upstream, tool, pinned.exposure)
    return tuple(f for f in ("description", "input_schema", "annotations")
                 if getattr(now, f) != getattr(pinned, f))


def exposed(lock: Lock, listed: Listed) -> tuple[PinnedTool, ...]:
    """The pinned tools whose upstream lists them now with the pinned digest:
    what serve exposes. An upstream missing from `listed` exposes nothing,
    since what it would run cannot be checked."""
    digests = {(upstream, t.name): listed_digest(t)
               for upstream, tools in listed.items() for t in tools}
    return tuple(t for t in lock.tools if digests.get((t.upstream, t.name)) == t.digest)
