"""The reads `signoff export` makes: runs and decided proposals a page at a
time, and what belongs to a page, in batches.

The ports of `ports.py` answer one proposal or one run at a time; an export
of a hundred thousand proposals through them would be three queries a line.
These answer a page at once, in keyset order (`position`: an increasing
number the adapter gives each runtime-log entry and each proposal in the
order they were written), so an export holds one page in memory however
large the store is, and a page read after a write still continues where the
last one ended.

They answer documents, not records: each record's JSON as the store keeps
it, parsed but not validated again (its keys are the record's fields, see
`records.py`; a field added later is absent from an older document). An
export reads a hundred thousand of them only to write them out again, and
validating each was most of its time; nothing read here is written back.

An adapter that offers them has `datasets` on its unit of work (SQLite
does); `dataset_reads` finds it, or says that this store cannot export.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from signoff.store.errors import StoreError
from signoff.store.ports import UnitOfWork

RunKey = tuple[str, str | None]  # (tenant, run id); None: a call of no run
Doc = dict[str, Any]  # a record's stored JSON, parsed


class Logged(NamedTuple):
    """A runtime-log entry (a `RuntimeEntry` document), its position in the
    log and its run. (Tuples: an export makes one per call it reads.)"""

    position: int
    run: RunKey
    entry: Doc


class Made(NamedTuple):
    """A proposal (a `ProposalRecord` document) and its position in the
    order proposals were made."""

    position: int
    proposal: Doc


class DatasetReads(Protocol):
    def run_starts(self, *, since: datetime | None, tenant_id: str | None, after: int,
                   limit: int) -> list[Logged]:
        """The first call of each run after position `after`, in log order.
        A run is the calls of one tenant under one run id; a call without a
        run id is a run of its own. `since`: only runs begun at or after it."""
        ...

    def run_calls(self, runs: Sequence[RunKey]) -> list[Logged]:
        """Every call of these runs, in log order. A run of no run id is not
        looked up here: its one call is its start."""
        ...

    def count_runs(self, *, since: datetime | None, tenant_id: str | None) -> int: ...

    def proposals_made(self, *, since: datetime | None, tenant_id: str | None, after: int,
                       limit: int) -> list[Made]:
        """Proposals made at or after `since`, after position `after`, in the
        order they were made."""
        ...

    def count_proposals(self, *, since: datetime | None, tenant_id: str | None) -> int: ...

    def proposals(self, proposal_ids: Sequence[str]) -> dict[str, Doc]: ...

    def redecided(self, proposal_ids: Sequence[str]) -> dict[str, list[Doc]]:
        """The decisions (`DecisionRecord`s), in the order they were made, of
        each of these proposals that was decided more than once (judged again
        at execution). One decided once holds its decision in its own
        document (`ProposalRecord.decision`): reading it twice is waste."""
        ...

    def votes(self, proposal_ids: Sequence[str]) -> dict[str, list[Doc]]:
        """Each proposal's votes (`Vote`s), in the order they were cast."""
        ...


class ExportUnsupported(StoreError):
    """The store's adapter offers no batched reads for exports."""


def dataset_reads(uow: UnitOfWork) -> DatasetReads:
    reads: DatasetReads | None = getattr(uow, "datasets", None)
    if reads is None:
        raise ExportUnsupported(
            f"this store's adapter ({type(uow).__name__}) has no batched reads for exports")
    return reads
