"""The read-only query tools of the casework domain: list, summary, evidence search.

Queries read projections through a tenant-scoped reader, so a case of another
tenant is simply absent: the answer for "not yours" is the same `QueryNotFound`
as for "no such case". Results are bounded by `limit` and list, in
`source_refs`, the ids an agent may cite back in a proposal.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field

from signoff.examples.casework.projections import CASE_SUMMARY, EVIDENCE_INDEX
from signoff.examples.casework.state import CaseStatus, RiskLevel
from signoff.server import QueryNotFound, QueryResult, QueryType, ReadModelReader

# How many documents a query reads before filtering in memory; far above any
# case's evidence, and a hard ceiling on the work one call can cause.
SCAN_LIMIT: Final = 1000

CaseId = Annotated[str, Field(min_length=1, max_length=64, description="A case id, e.g. "
                              "'case-acme-001', as returned by list_cases.")]
Limit = Annotated[int, Field(ge=1, le=100, description="At most this many items (1-100).")]


class Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def load_case(reader: ReadModelReader, case_id: str) -> dict[str, Any]:
    """The case's summary document, or QueryNotFound (absent or another tenant's)."""
    doc = reader.get(CASE_SUMMARY, case_id)
    if doc is None:
        raise QueryNotFound(f"case {case_id}")
    return doc


def case_evidence(reader: ReadModelReader, case_id: str) -> list[dict[str, Any]]:
    """The case's evidence documents, ordered by id so answers are stable."""
    docs = reader.find(EVIDENCE_INDEX, index=case_id, limit=SCAN_LIMIT)
    return sorted(docs, key=lambda d: str(d["evidence_id"]))


# --- list_cases ----------------------------------------------------------------


class ListCasesArgs(Arguments):
    status: CaseStatus | None = Field(
        default=None, description="Only cases in this status; omit for all statuses."
    )
    limit: Limit = 20


class CaseListItem(BaseModel):
    case_id: str
    status: CaseStatus
    risk_level: RiskLevel
    version: int


class ListCasesResult(QueryResult):
    cases: list[CaseListItem]


def run_list_cases(reader: ReadModelReader, args: ListCasesArgs) -> ListCasesResult:
    docs = reader.find(CASE_SUMMARY, index=args.status, limit=SCAN_LIMIT)
    docs = sorted(docs, key=lambda d: str(d["case_id"]))[: args.limit]
    cases = [
        CaseListItem(case_id=d["case_id"], status=d["status"], risk_level=d["risk_level"],
                     version=d["version"])
        for d in docs
    ]
    return ListCasesResult(cases=cases, source_refs=[c.case_id for c in cases])


# --- get_case_summary ------------------------------------------------------------


class CaseIdArgs(Arguments):
    case_id: CaseId


class CaseSummaryResult(QueryResult):
    case_id: str
    status: CaseStatus
    risk_level: RiskLevel
    assigned_team: str
    evidence_count: int
    last_updated_at: str
    version: int


def run_case_summary(reader: ReadModelReader, args: CaseIdArgs) -> CaseSummaryResult:
    d = load_case(reader, args.case_id)
    return CaseSummaryResult(
        case_id=d["case_id"],
        status=d["status"],
        risk_level=d["risk_level"],
        assigned_team=d["assigned_team"],
        evidence_count=d["evidence_count"],
        last_updated_at=d["last_updated_at"],
        version=d["version"],
        source_refs=[d["case_id"]],
    )


# --- search_evidence ---------------------------------------------------------------


class SearchEvidenceArgs(Arguments):
    case_id: CaseId
    query: str | None = Field(
        default=None, max_length=200,
        description="Words to look for in evidence titles and summaries (any word matches; "
        "items matching more words come first). Omit to list all of the case's evidence.",
    )
    limit: Limit = 20


class EvidenceItem(BaseModel):
    evidence_id: str = Field(description="The id to cite in a proposal's evidence_refs.")
    title: str
    summary: str


class SearchEvidenceResult(QueryResult):
    items: list[EvidenceItem]


def query_words(query: str | None) -> list[str]:
    """Lower-cased words of the query; punctuation separates words."""
    return sorted(set(re.findall(r"\w+", (query or "").lower())))


def _matches(word: str, text: str) -> bool:
    """Substring match ('fee' finds 'fees'); a plural also finds its singular
    ('fees' finds 'fee'), since models phrase searches either way."""
    if word in text:
        return True
    return len(word) > 3 and word.endswith("s") and word[:-1] in text


def run_search_evidence(reader: ReadModelReader, args: SearchEvidenceArgs) -> SearchEvidenceResult:
    """An item's rank is how many distinct query words it contains, ties
    broken by evidence id; items matching no word are left out."""
    load_case(reader, args.case_id)
    words = query_words(args.query)
    ranked: list[tuple[int, dict[str, Any]]] = []
    for doc in case_evidence(reader, args.case_id):
        text = f"{doc['title']} {doc['summary']}".lower()
        hits = sum(1 for w in words if _matches(w, text))
        if hits or not words:
            ranked.append((hits, doc))
    ranked.sort(key=lambda pair: -pair[0])  # stable: id order within a rank
    items = [
        EvidenceItem(evidence_id=d["evidence_id"], title=d["title"], summary=d["summary"])
        for _, d in ranked[: args.limit]
    ]
    return SearchEvidenceResult(items=items, source_refs=[i.evidence_id for i in items])


LIST_CASES: Final = QueryType[ListCasesArgs, ListCasesResult](
    name="list_cases",
    args=ListCasesArgs,
    result=ListCasesResult,
    run=run_list_cases,
    description="List the cases you can see, optionally only those in one status, ordered by "
    "case id. Each has its current version, which state-changing proposals take as "
    "expected_version.",
)

GET_CASE_SUMMARY: Final = QueryType[CaseIdArgs, CaseSummaryResult](
    name="get_case_summary",
    args=CaseIdArgs,
    result=CaseSummaryResult,
    run=run_case_summary,
    description="One case's status, risk level, assigned team, evidence count, last update "
    "and current version.",
)

SEARCH_EVIDENCE: Final = QueryType[SearchEvidenceArgs, SearchEvidenceResult](
    name="search_evidence",
    args=SearchEvidenceArgs,
    result=SearchEvidenceResult,
    run=run_search_evidence,
    description="Search a case's collected evidence by words in its title and summary. The "
    "evidence_id of each item is what you cite in a proposal's evidence_refs.",
)
