"""notes: the smallest complete signoff domain (docs/domains.md walks through it).

One aggregate (a note), two commands an agent may propose (create a note,
archive one), two queries, one read model. Written only against the public
face `signoff.server`, as your own domain would be. Serve it with:

    signoff serve --domain examples/notes --policy examples/notes/policy.toml \\
        --principals examples/notes/principals.toml --principal agent:scribe --tenant home
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from signoff.server import (
    AggregateType,
    CommandType,
    DecideContext,
    Domain,
    EventEnvelope,
    NewEvent,
    Projection,
    QueryNotFound,
    QueryResult,
    QueryType,
    ReadModelReader,
    ReadModelWriter,
    Rejection,
    SeedEvent,
)

NoteId = Annotated[str, Field(min_length=1, max_length=64, description="An id from list_notes.")]


# --- state: folded from the note's events ----------------------------------------
@dataclass(frozen=True)
class Note:
    title: str = ""
    body: str = ""
    archived: bool = False


def apply(note: Note, event: EventEnvelope) -> Note:
    if event.event_type == "note.created":
        return Note(title=event.payload["title"], body=event.payload["body"])
    return replace(note, archived=True) if event.event_type == "note.archived" else note


NOTE = AggregateType[Note](name="note", initial=Note, apply=apply,
                           status=lambda n: "archived" if n.archived else "active")


# --- commands: what an agent may propose -----------------------------------------
class CreateNote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(default="", max_length=10_000)


class ArchiveNote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note_id: NoteId


def create(_note: Note, p: CreateNote, _ctx: DecideContext) -> list[NewEvent]:
    return [NewEvent("note.created", {"title": p.title, "body": p.body})]


def archive(note: Note, _p: ArchiveNote, ctx: DecideContext) -> list[NewEvent] | Rejection:
    if note.archived:
        return Rejection(f"note {ctx.aggregate_id} is already archived")
    return [NewEvent("note.archived", {})]


COMMANDS = (
    CommandType[CreateNote, Note](name="note.create", tool="create_note", payload=CreateNote,
                                  aggregate=NOTE, decide=create,
                                  description="Propose a new note; the receipt names its id."),
    CommandType[ArchiveNote, Note](name="note.archive", tool="archive_note", payload=ArchiveNote,
                                   aggregate=NOTE, decide=archive, target=lambda p: p.note_id,
                                   requires_version=True,
                                   description="Propose archiving a note (a person decides)."),
)


# --- read side: one read model, two queries --------------------------------------
def project(docs: ReadModelWriter, event: EventEnvelope) -> None:
    doc: dict[str, Any] = docs.get(event.aggregate_id) or {"note_id": event.aggregate_id}
    if event.aggregate_version <= int(doc.get("version", 0)):
        return  # a replay: projections must be idempotent
    if event.event_type == "note.created":
        doc.update(title=event.payload["title"], body=event.payload["body"], archived=False)
    elif event.event_type == "note.archived":
        doc.update(archived=True)
    doc["version"] = event.aggregate_version
    docs.put(event.aggregate_id, doc, index="archived" if doc["archived"] else "active")


class ListNotes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=20, ge=1, le=100)


class GetNote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note_id: NoteId


class NotesResult(QueryResult):
    notes: list[dict[str, Any]]


def list_notes(reader: ReadModelReader, args: ListNotes) -> NotesResult:
    docs = sorted(reader.find("notes", index="active", limit=args.limit),
                  key=lambda d: str(d["note_id"]))
    return NotesResult(notes=docs, source_refs=[d["note_id"] for d in docs])


def get_note(reader: ReadModelReader, args: GetNote) -> NotesResult:
    doc = reader.get("notes", args.note_id)
    if doc is None:
        raise QueryNotFound(f"note {args.note_id}")
    return NotesResult(notes=[doc], source_refs=[args.note_id])


def build_domain() -> Domain:
    return Domain(
        name="notes", aggregates=(NOTE,), commands=COMMANDS,
        queries=(QueryType(name="list_notes", args=ListNotes, result=NotesResult, run=list_notes,
                           description="Active notes, oldest id first."),
                 QueryType(name="get_note", args=GetNote, result=NotesResult, run=get_note,
                           description="One note by id, archived or not.")),
        projections=(Projection(name="notes", handles=frozenset({"note.created",
                                                                  "note.archived"}),
                                apply=project),),
        event_versions={"note.created": 1, "note.archived": 1},
        # What `signoff serve --demo` puts in an empty database.
        seed=lambda: [SeedEvent("home", NOTE, "note-welcome", NewEvent(
            "note.created", {"title": "Welcome", "body": "Propose notes; Sam archives them."}))],
    )
