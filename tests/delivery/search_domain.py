"""The casework domain plus two projections that give each case a search
text (the words of its events' types, inline and async) and a query that
searches them. Loaded as `tests.delivery.search_domain:build_domain`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pydantic import BaseModel

from signoff.examples.casework import build_domain as casework
from signoff.examples.casework import events as ev
from signoff.server.domain import Domain, Projection, QueryResult, QueryType, ReadModelReader
from signoff.store.records import EventEnvelope

INLINE, ASYNC = "case_words_inline", "case_words_async"


def words(tag: str) -> Callable[[Any, EventEnvelope], None]:
    """A projection's apply: per case, the event types seen so far, as its
    search text, each word prefixed by `tag` (so two versions differ)."""
    def apply(writer: Any, event: EventEnvelope) -> None:
        doc = writer.get(event.aggregate_id) or {"types": []}
        types = [*doc["types"], event.event_type.replace(".", " ")]
        writer.put(event.aggregate_id, {"types": types},
                   text=" ".join(f"{tag}{word}" for t in types for word in t.split()))
    return apply


class SearchArgs(BaseModel):
    projection: str
    query: str


class SearchResult(QueryResult):
    keys: list[str]


def run_search(reader: ReadModelReader, args: SearchArgs) -> SearchResult:
    hits = reader.search(args.projection, args.query, limit=5)
    assert all(hit.score > 0 for hit in hits)
    return SearchResult(keys=[hit.key for hit in hits], source_refs=[h.key for h in hits])


SEARCH = QueryType[SearchArgs, SearchResult](
    name="search_case_words", args=SearchArgs, result=SearchResult, run=run_search,
    description="Cases by the words of their events.")


def projections(tag: str) -> tuple[Projection, ...]:
    handles = frozenset(ev.CASE_EVENTS)
    return (Projection(name=INLINE, handles=handles, apply=words(tag), mode="inline"),
            Projection(name=ASYNC, handles=handles, apply=words(tag), mode="async"))


def build_domain() -> Domain:
    base = casework()
    return replace(base, queries=(*base.queries, SEARCH),
                   projections=(*base.projections, *projections("")))
