"""The lock file beside a gateway file (`gateway.toml.lock`): the pinned
catalogue as pretty, sorted JSON, so a re-pin that changes nothing changes
no byte and a review of the file's diff shows exactly what drifted.

Loading checks every digest against the content it covers (a hand-edited or
truncated lock is refused, never trusted) and applies the gateway file as it
is now: it decides what is read and what is proposed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from signoff.server.errors import ConfigError
from signoff.server.gateway.model import GatewayConfig
from signoff.server.gateway.pinned import Lock, PinnedTool, tool_digest
from signoff.server.gateway.proposable import why_not_proposable

FORMAT = 1
_TOOL_KEYS = frozenset({"description", "input_schema", "annotations", "digest", "exposure"})


class _Corrupt(Exception):
    """Why a lock file's content cannot be used."""


def lock_json(lock: Lock) -> dict[str, Any]:
    upstreams: dict[str, Any] = {}
    for tool in lock.tools:
        upstreams.setdefault(tool.upstream, {"tools": {}})["tools"][tool.name] = tool.to_json()
    return {"format": FORMAT, "gateway": lock.config.path.name, "upstreams": upstreams}


def write_lock(lock: Lock, path: Path) -> None:
    """Write the lock to `path` whole or not at all (a crash mid-write leaves
    the old lock, never half a new one)."""
    text = json.dumps(lock_json(lock), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        scratch.write_text(text, encoding="utf-8")
        os.replace(scratch, path)
    except OSError as exc:
        scratch.unlink(missing_ok=True)
        raise ConfigError(f"{path}: cannot write the lock file: {exc.strerror}") from exc


def load_lock(config: GatewayConfig) -> Lock:
    """The pinned catalogue of `config` from `config.lock_path`. Raises
    ConfigError when it is missing or corrupt, saying to pin."""
    path = config.lock_path
    pin = f"signoff gateway pin {config.path}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no lock file, so no upstream tool is pinned: run `{pin}` "
                          "to list the upstreams' tools and pin them") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the lock file ({type(exc).__name__})") from None
    try:
        pinned = _tools(json.loads(text))
    except (ValueError, _Corrupt) as exc:
        raise ConfigError(f"{path}: corrupt lock file ({exc}): run `{pin}` again") from None
    return _applied(config, pinned, pin)


def _tools(data: object) -> list[PinnedTool]:
    if not isinstance(data, dict):
        raise _Corrupt("not a JSON object")
    if data.get("format") != FORMAT:
        raise _Corrupt(f"format {data.get('format')!r}, this signoff reads format {FORMAT}")
    upstreams = data.get("upstreams")
    if not isinstance(upstreams, dict):
        raise _Corrupt("no upstreams object")
    found: list[PinnedTool] = []
    for upstream, entry in sorted(upstreams.items()):
        tools = entry.get("tools") if isinstance(entry, dict) else None
        if not isinstance(tools, dict):
            raise _Corrupt(f"upstream {upstream!r} has no tools object")
        found.extend(_tool(upstream, name, raw) for name, raw in sorted(tools.items()))
    return found


def _tool(upstream: str, name: str, raw: object) -> PinnedTool:
    where = f"tool {upstream}/{name}"
    if not isinstance(raw, dict) or set(raw) != _TOOL_KEYS:
        raise _Corrupt(f"{where} is not an object of {', '.join(sorted(_TOOL_KEYS))}")
    description, schema, annotations = raw["description"], raw["input_schema"], \
        raw["annotations"]
    exposure, digest = raw["exposure"], raw["digest"]
    if not (isinstance(description, str) and isinstance(schema, dict)
            and (annotations is None or isinstance(annotations, dict))
            and exposure in ("read", "propose")):
        raise _Corrupt(f"{where} has a field of the wrong type")
    if digest != tool_digest(name, description, schema, annotations):
        raise _Corrupt(f"the digest of {where} does not match its content")
    return PinnedTool(upstream, name, description, schema, annotations, digest,
                      "read" if exposure == "read" else "propose")


def _applied(config: GatewayConfig, pinned: list[PinnedTool], pin: str) -> Lock:
    """The pinned tools the file still exposes, as the file exposes them now."""
    tools: list[PinnedTool] = []
    warnings: list[str] = []
    for tool in pinned:
        upstream = config.upstream(tool.upstream)
        exposure = upstream.tools.exposure(tool.name) if upstream is not None else None
        if exposure is None:
            continue  # no longer exposed: nothing to withhold
        if exposure != tool.exposure:
            warnings.append(f"upstream {tool.upstream!r}: tool {tool.name!r} was pinned as "
                            f"{tool.exposure} and the gateway file now says {exposure}")
            tool = PinnedTool(tool.upstream, tool.name, tool.description, tool.input_schema,
                              tool.annotations, tool.digest, exposure)
        reason = why_not_proposable(tool.input_schema) if exposure == "propose" else None
        if reason is not None:
            raise ConfigError(f"{config.lock_path}: upstream {tool.upstream!r}: tool "
                              f"{tool.name!r} cannot be a propose tool: {reason}; change the "
                              f"gateway file and run `{pin}`")
        tools.append(tool)
    return Lock(config=config, tools=tuple(tools), warnings=tuple(warnings))

