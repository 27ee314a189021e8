"""Queries built for a model: ranked memory with the ids to cite, and each
outside call's state. `build_context` is in `context.py`."""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from signoff.examples.assistant.calls import CallId
from signoff.examples.assistant.projections import CALLS, MEMORY_VIEW
from signoff.server import QueryNotFound, QueryResult, QueryType, ReadModelReader

Query = Field(min_length=1, max_length=500, description="Plain words to look for.")


class SearchMemory(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Query
    limit: int = Field(default=5, ge=1, le=20)


class MemoryHit(BaseModel):
    memory_id: str = Field(description="The ref to cite, and the id update_memory takes.")
    text: str
    kind: str
    subject: str
    version: int
    score: float = Field(description="Higher is a better match; compare within one answer.")


class MemoryHits(QueryResult):
    hits: list[MemoryHit]


def search_memory(reader: ReadModelReader, args: SearchMemory) -> MemoryHits:
    hits = [MemoryHit(memory_id=h.key, text=h.doc["text"], kind=h.doc["kind"],
                      subject=h.doc["subject"], version=h.doc["version"], score=h.score)
            for h in reader.search(MEMORY_VIEW, args.query, limit=args.limit)]
    return MemoryHits(hits=hits, source_refs=[h.memory_id for h in hits])


class GetApiCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    call_id: CallId


class ApiCallView(QueryResult):
    call_id: str
    method: str
    url: str
    status: str = Field(description="requested, started, completed, failed, refused or "
                        "outcome_unknown (a person resolves it).")
    attempts: int
    reason: str = ""
    response: dict[str, Any] | None = Field(default=None, description=(
        "status_code, content_type, body (bounded) and truncated, once it answered."))


def get_api_call(reader: ReadModelReader, args: GetApiCall) -> ApiCallView:
    doc = reader.get(CALLS, args.call_id)
    if doc is None:
        raise QueryNotFound(f"api call {args.call_id}")
    return ApiCallView(call_id=doc["call_id"], method=doc["method"], url=doc["url"],
                       status=doc["status"], attempts=doc["attempts"],
                       reason=doc.get("reason", ""), response=doc.get("response"),
                       source_refs=[doc["call_id"]])


SEARCH_MEMORY: Final = QueryType(
    name="search_memory", args=SearchMemory, result=MemoryHits, run=search_memory,
    description="Committed memory items matching the words of `query`, best first, each "
    "with the memory_id to cite. Pending or refused memory writes are never here.")
GET_API_CALL: Final = QueryType(
    name="get_api_call", args=GetApiCall, result=ApiCallView, run=get_api_call,
    description="An api call's state and, once it answered, the recorded response.")
