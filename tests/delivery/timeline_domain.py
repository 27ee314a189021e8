"""The casework domain plus one query over its async `case_timeline`
projection, so tests can see how an answer from a lagging read model says
how fresh it is. Loaded as `tests.delivery.timeline_domain:build_domain`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import BaseModel

from signoff.examples.casework import build_domain as casework
from signoff.examples.casework.projections import CASE_TIMELINE
from signoff.examples.casework.queries import CaseIdArgs
from signoff.server.domain import Domain, QueryNotFound, QueryResult, QueryType, ReadModelReader


class TimelineEntry(BaseModel):
    type: str
    version: int


class TimelineResult(QueryResult):
    case_id: str
    entries: list[TimelineEntry]


def run_timeline(reader: ReadModelReader, args: CaseIdArgs) -> TimelineResult:
    doc: dict[str, Any] | None = reader.get(CASE_TIMELINE, args.case_id)
    if doc is None:
        raise QueryNotFound(f"timeline of case {args.case_id}")
    return TimelineResult(
        case_id=args.case_id, source_refs=[args.case_id],
        entries=[TimelineEntry(type=e["type"], version=e["version"]) for e in doc["entries"]])


GET_CASE_TIMELINE = QueryType[CaseIdArgs, TimelineResult](
    name="get_case_timeline", args=CaseIdArgs, result=TimelineResult, run=run_timeline,
    description="A case's recent events, from an asynchronously built read model.")


def build_domain() -> Domain:
    base = casework()
    return replace(base, queries=(*base.queries, GET_CASE_TIMELINE))
