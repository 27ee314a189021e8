"""`signoff export runs|decisions`: the store's history as dataset lines.

Reads a page at a time in keyset order (`signoff.store.datasets`), each
page in one read transaction with what belongs to it (the runs' calls, the
proposals' decisions and votes), and yields its lines: an export of any
size holds one page in memory. Every line is redacted before it leaves,
whatever the format: the values of secret-looking keys and of the fields
the domain marks sensitive, and any text shaped like a secret (the rules of
the relay, the logs and the runtime log). The runtime log redacted the calls
when it kept them; proposals keep what the agent sent, so this is where
their payloads are redacted.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from signoff.server.gateway import may_hold_secret, redact_texts
from signoff.server.observability import nothing_to_redact, redact
from signoff.server.ops.exports_lines import decision_line, run_line
from signoff.store.datasets import Doc, Logged, Made, RunKey, dataset_reads
from signoff.store.ports import Store, UnitOfWork

RUN_PAGE = 200
PROPOSAL_PAGE = 500
Kind = Literal["runs", "decisions"]


@dataclass(frozen=True)
class Selection:
    """Which history: made at or after `since`, in `tenant` (None: all)."""

    since: datetime | None = None
    tenant: str | None = None


@dataclass(frozen=True)
class Line:
    """One exported line, redacted, and its JSON text (the jsonl line)."""

    doc: dict[str, Any]
    text: str


def redacted(doc: dict[str, Any], sensitive: frozenset[str]) -> Line:
    """`doc` with what must not leave hidden, and its JSON text. The quick
    tests on the text come first: most lines hold no key to hide and no
    secret-shaped text, and walking each was most of an export's time."""
    text = dump(doc)
    if not nothing_to_redact(text, sensitive):
        clean = redact(doc, sensitive)
        if clean is not doc:
            doc, text = clean, dump(clean)
    if may_hold_secret(text):
        doc = redact_texts(doc)
        text = dump(doc)
    return Line(doc, text)


# Lines are trees built here, never cyclic: the encoder's check for cycles
# was a third of the time it took.
_ENCODER = json.JSONEncoder(ensure_ascii=False, check_circular=False, default=str)


def dump(doc: object) -> str:
    """A line's JSON text."""
    return _ENCODER.encode(doc)


async def export_total(store: Store, kind: Kind, selection: Selection) -> int:
    """How many runs, or proposals (decided or not), the selection holds:
    the progress bar's total."""
    def read(uow: UnitOfWork) -> int:
        reads = dataset_reads(uow)
        if kind == "runs":
            return reads.count_runs(since=selection.since, tenant_id=selection.tenant)
        return reads.count_proposals(since=selection.since, tenant_id=selection.tenant)

    return await store.read(read)


def runs_by_key(calls: Sequence[Logged]) -> dict[RunKey, list[Doc]]:
    """Each run's calls in the order they were made. The log's order is the
    order of its flushes: two serve processes answering one run (stateless
    HTTP) each flush their own buffer, so a run's calls are put back in the
    order of their times, the log's breaking ties."""
    runs: defaultdict[RunKey, list[Logged]] = defaultdict(list)
    for logged in calls:
        runs[logged.run].append(logged)
    return {key: [logged.entry for logged in (sorted(run, key=_made_at) if len(run) > 1
                                              else run)]
            for key, run in runs.items()}


def _made_at(logged: Logged) -> tuple[datetime, int]:
    return datetime.fromisoformat(logged.entry["at"]), logged.position


def _run_page(selection: Selection, after: int) -> Callable[[UnitOfWork], tuple[
        int, list[dict[str, Any]]]]:
    def read(uow: UnitOfWork) -> tuple[int, list[dict[str, Any]]]:
        reads = dataset_reads(uow)
        starts = reads.run_starts(since=selection.since, tenant_id=selection.tenant,
                                  after=after, limit=RUN_PAGE)
        if not starts:
            return after, []
        runs = runs_by_key(reads.run_calls([s.run for s in starts]))
        calls = [runs.get(s.run, []) if s.entry.get("run_id") is not None else [s.entry]
                 for s in starts]
        ids = [e["proposal_id"] for run in calls for e in run
               if e["kind"] == "command" and e.get("proposal_id") is not None]
        proposals, decisions, votes = reads.proposals(ids), reads.redecided(ids), reads.votes(ids)
        lines = [run_line(run, proposals, decisions, votes) for run in calls if run]
        return starts[-1].position, lines

    return read


def _decision_page(selection: Selection, after: int) -> Callable[[UnitOfWork], tuple[
        int, int, list[dict[str, Any]]]]:
    def read(uow: UnitOfWork) -> tuple[int, int, list[dict[str, Any]]]:
        reads = dataset_reads(uow)
        made: list[Made] = reads.proposals_made(since=selection.since,
                                                tenant_id=selection.tenant, after=after,
                                                limit=PROPOSAL_PAGE)
        if not made:
            return after, 0, []
        decided = [m.proposal for m in made if m.proposal["status"] != "pending_approval"]
        ids = [p["proposal_id"] for p in decided]
        decisions, votes = reads.redecided(ids), reads.votes(ids)
        keys = {(p["tenant_id"], p.get("run_id")) for p in decided}
        runs = runs_by_key(reads.run_calls(sorted(k for k in keys if k[1] is not None)))
        lines = [decision_line(p, runs.get((p["tenant_id"], p.get("run_id")), []),
                               decisions.get(p["proposal_id"], ()),
                               votes.get(p["proposal_id"], ()))
                 for p in decided]
        return made[-1].position, len(made), lines

    return read


async def export_runs(store: Store, selection: Selection, sensitive: frozenset[str],
                      progress: Callable[[int], None] = lambda _n: None
                      ) -> AsyncIterator[Line]:
    """Every run begun in the selection, oldest first; `progress(n)` after
    each page with the runs it held."""
    after = 0
    while True:
        after, docs = await store.read(_run_page(selection, after))
        if not docs:
            return
        for doc in docs:
            yield redacted(doc, sensitive)
        progress(len(docs))


async def export_decisions(store: Store, selection: Selection, sensitive: frozenset[str],
                           progress: Callable[[int], None] = lambda _n: None
                           ) -> AsyncIterator[Line]:
    """Every decided proposal made in the selection (a pending one has no
    verdict yet), in the order they were made; `progress(n)` after each
    page with the proposals it read."""
    after = 0
    while True:
        after, read, docs = await store.read(_decision_page(selection, after))
        if not read:
            return
        for doc in docs:
            yield redacted(doc, sensitive)
        progress(read)
