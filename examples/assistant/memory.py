"""Memory writes: save, update and forget, each a proposal the policy judges
(plain notes go through, facts about people wait for the user, anything
that looks like a secret is refused: `policy.toml`). Only an executed
proposal commits an event, so only committed memory ever reaches the read
model that `search_memory` and `build_context` read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from signoff.examples.assistant import events as ev
from signoff.examples.assistant.state import MEMORY, Memory, MemoryKind
from signoff.server import CommandType, DecideContext, NewEvent, Rejection

Decision = Sequence[NewEvent] | Rejection
MemoryId = Annotated[str, Field(min_length=1, max_length=64,
                                description="A memory id from search_memory or build_context.")]
Text = Annotated[str, Field(min_length=1, max_length=2000)]


class SaveMemory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: Text = Field(description="What to remember, in one or two sentences.")
    kind: MemoryKind = Field(default="note", description=(
        "note (anything plain), preference (the user's), or person_fact (a fact about a "
        "person: the user decides)."))
    subject: str = Field(default="", max_length=100, description=(
        "Whom or what it is about; `person:<name>` for a person."))


class UpdateMemory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    memory_id: MemoryId
    text: Text = Field(description="The item's new text (it replaces the old).")


class ForgetMemory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    memory_id: MemoryId


def _missing(memory_id: str, memory: Memory) -> Rejection | None:
    if not memory.saved:
        return Rejection(f"memory {memory_id} not found")
    if memory.forgotten:
        return Rejection(f"memory {memory_id} was forgotten; save a new item instead")
    return None


def decide_save(_memory: Memory, p: SaveMemory, _ctx: DecideContext) -> Decision:
    return [NewEvent(ev.MEMORY_SAVED, {"text": p.text.strip(), "kind": p.kind,
                                       "subject": p.subject.strip()})]


def decide_update(memory: Memory, p: UpdateMemory, ctx: DecideContext) -> Decision:
    refused = _missing(ctx.aggregate_id, memory)
    if refused is not None:
        return refused
    if p.text.strip() == memory.text:
        return Rejection(f"memory {ctx.aggregate_id} already says this")
    return [NewEvent(ev.MEMORY_UPDATED, {"text": p.text.strip()})]


def decide_forget(memory: Memory, _p: ForgetMemory, ctx: DecideContext) -> Decision:
    refused = _missing(ctx.aggregate_id, memory)
    return refused if refused is not None else [NewEvent(ev.MEMORY_FORGOTTEN, {})]


_PROPOSAL = (" A proposal: the receipt says whether it was saved, waits for the user, or was "
             "refused, and why.")

SAVE: Final = CommandType[SaveMemory, Memory](
    name="memory.save", tool="save_memory", payload=SaveMemory, aggregate=MEMORY,
    decide=decide_save,
    description="Remember something for later conversations; the receipt's aggregate_id is "
    "the new memory id." + _PROPOSAL,
    summary=lambda p: f"Remember ({p.kind}): {p.text[:80]}",
    review_fields=("text", "kind", "subject"),
)
UPDATE: Final = CommandType[UpdateMemory, Memory](
    name="memory.update", tool="update_memory", payload=UpdateMemory, aggregate=MEMORY,
    decide=decide_update, target=lambda p: p.memory_id, requires_version=True,
    description="Replace a memory item's text (expected_version: the version you read)."
    + _PROPOSAL,
    summary=lambda p: f"Change memory {p.memory_id} to: {p.text[:80]}",
    review_fields=("text", "kind", "subject"),
)
FORGET: Final = CommandType[ForgetMemory, Memory](
    name="memory.forget", tool="forget_memory", payload=ForgetMemory, aggregate=MEMORY,
    decide=decide_forget, target=lambda p: p.memory_id,
    description="Forget a memory item: it is no longer found or put in context." + _PROPOSAL,
    summary=lambda p: f"Forget memory {p.memory_id}",
    review_fields=("text", "kind", "subject"),
)

MEMORY_COMMANDS: Final = (SAVE, UPDATE, FORGET)
