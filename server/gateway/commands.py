"""An upstream's propose tools as signoff command types.

`repo`'s pinned `git_commit` becomes the command type `tool.repo.git_commit`
on the tool `repo_git_commit`: its payload is the upstream's own arguments,
validated against the pinned input schema by a real JSON Schema validator;
its handler records `tool_call.approved` (the executor commits that once the
policy and the reviewers allow it); the call itself is the invoker's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol

import jsonschema
from pydantic import BaseModel, ConfigDict, model_validator

from signoff.server.domain import CommandType, DecideContext, NewEvent, Rejection
from signoff.server.gateway.calls import APPROVED, TOOL_CALL, ToolCall
from signoff.server.gateway.model import Upstream

MAX_PROBLEMS = 10


class Pinned(Protocol):
    """What a command needs of a pinned tool (`catalogue.PinnedTool`)."""

    @property
    def upstream(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def input_schema(self) -> Mapping[str, Any]: ...

    @property
    def digest(self) -> str: ...


class UpstreamArguments(BaseModel):
    """A tool's arguments exactly as the upstream takes them; subclasses
    carry the pinned schema they are checked against."""

    model_config = ConfigDict(extra="allow", frozen=True)
    # A jsonschema validator for the pinned schema, set per subclass.
    validator: ClassVar[Any] = None

    @model_validator(mode="before")
    @classmethod
    def _against_the_pinned_schema(cls, data: Any) -> Any:
        validator = cls.validator
        if not isinstance(data, dict):
            raise ValueError("arguments must be a JSON object")
        problems = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
        if problems:
            raise ValueError("; ".join(
                f"{'.'.join(str(p) for p in e.path) or '(arguments)'}: {e.message}"
                for e in problems[:MAX_PROBLEMS]))
        return data


def arguments_model(tool: Pinned) -> type[UpstreamArguments]:
    schema = dict(tool.input_schema)
    validator_class = jsonschema.validators.validator_for(schema, jsonschema.Draft202012Validator)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)

    name = f"{tool.upstream}_{tool.name}_arguments"
    model: type[UpstreamArguments] = type(name, (UpstreamArguments,), {"validator": validator})
    return model


def _decide(upstream: Upstream, tool: Pinned) -> Any:
    idempotent = upstream.tools.is_idempotent(tool.name)

    def decide(
        call: ToolCall, payload: UpstreamArguments, ctx: DecideContext
    ) -> Sequence[NewEvent] | Rejection:
        if call.exists:
            return Rejection(f"tool call {ctx.aggregate_id} already exists")
        return [NewEvent(APPROVED, {
            "upstream": upstream.name, "tool": tool.name, "tool_digest": tool.digest,
            "arguments": payload.model_dump(mode="json"), "idempotent": idempotent,
        })]

    return decide


def propose_command(upstream: Upstream, tool: Pinned) -> CommandType[Any, ToolCall]:
    return CommandType[Any, ToolCall](
        name=upstream.command_type(tool.name), tool=upstream.exposed_name(tool.name),
        payload=arguments_model(tool), aggregate=TOOL_CALL, decide=_decide(upstream, tool),
        description=_description(upstream, tool), external=True,
        input_schema=tool.input_schema, pinned=tool.digest,
    )


def _description(upstream: Upstream, tool: Pinned) -> str:
    """The agent reads the upstream's description (untrusted, but the agent
    was going to call this tool anyway), framed by what signoff does."""
    return (f"[{upstream.name}] {tool.description.strip()}\n\nThrough signoff: this records a "
            f"proposal to call {upstream.name}.{tool.name}; the call is made once, after the "
            "policy (and a reviewer, if it asks for one) allows it.")
