"""A pinned tool: what an upstream said a tool is (name, description, input
schema, annotations) when someone ran `signoff gateway pin`, and its digest.

The digest is what approval binds to: a tool whose upstream now describes it
differently is a different tool, withheld until pinned again, and never
called on a vote cast for the old one.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import mcp_types

from signoff.server.gateway.model import Exposure, GatewayConfig


def canonical(value: object) -> bytes:
    """JSON with sorted keys and no spaces: equal content, equal bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def tool_digest(name: str, description: str, input_schema: Mapping[str, Any],
                annotations: Mapping[str, Any] | None) -> str:
    """sha256 (hex) of the canonical JSON of the four things a pin covers."""
    content = {"name": name, "description": description, "input_schema": input_schema,
               "annotations": annotations}
    return hashlib.sha256(canonical(content)).hexdigest()


def annotations_of(tool: mcp_types.Tool) -> dict[str, Any] | None:
    """The annotations as on the wire (camelCase, unset hints left out); an
    empty set is none, so an upstream that starts sending `{}` has not drifted."""
    if tool.annotations is None:
        return None
    dumped = tool.annotations.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped or None


@dataclass(frozen=True)
class PinnedTool:
    upstream: str
    name: str
    # "" when the upstream gives none.
    description: str
    input_schema: Mapping[str, Any]
    annotations: Mapping[str, Any] | None
    digest: str
    exposure: Exposure

    @classmethod
    def of(cls, upstream: str, tool: mcp_types.Tool, exposure: Exposure) -> PinnedTool:
        """Pins `tool` as the upstream lists it now (copied: later changes to
        the listed object change nothing here)."""
        description = tool.description or ""
        schema = copy.deepcopy(tool.input_schema)
        annotations = annotations_of(tool)
        return cls(upstream, tool.name, description, schema, annotations,
                   tool_digest(tool.name, description, schema, annotations), exposure)

    @property
    def exposed_name(self) -> str:
        return f"{self.upstream}_{self.name}"

    @property
    def command_type(self) -> str:
        return f"tool.{self.upstream}.{self.name}"

    def to_json(self) -> dict[str, Any]:
        """The tool's entry in the lock file (its upstream and name are the keys)."""
        return {"description": self.description, "input_schema": dict(self.input_schema),
                "annotations": None if self.annotations is None else dict(self.annotations),
                "digest": self.digest, "exposure": self.exposure}


def listed_digest(tool: mcp_types.Tool) -> str:
    """The digest `tool` would be pinned with."""
    return tool_digest(tool.name, tool.description or "", tool.input_schema,
                       annotations_of(tool))


@dataclass(frozen=True)
class Lock:
    """The pinned catalogue of a gateway file. Exposure follows the file
    (`config`): the lock pins what upstreams say, the file says what of it
    passes through and what becomes a proposal."""

    config: GatewayConfig
    tools: tuple[PinnedTool, ...]
    # Worth telling whoever pinned or loaded it; never a reason to refuse.
    warnings: tuple[str, ...] = ()

    def tool(self, upstream: str, name: str) -> PinnedTool | None:
        return next((t for t in self.tools if t.upstream == upstream and t.name == name), None)

    def of(self, upstream: str) -> tuple[PinnedTool, ...]:
        return tuple(t for t in self.tools if t.upstream == upstream)

    @property
    def proposable(self) -> tuple[PinnedTool, ...]:
        """The pinned propose tools: the gateway's command types."""
        return tuple(t for t in self.tools if t.exposure == "propose")
