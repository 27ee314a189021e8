"""The reads `signoff export` makes: runs and decided proposals a page at a
time, and what belongs to a page, in batches.

The ports of `ports.py` answer one proposal or one run at a time; an export
of a hundred thousand proposals through them would be three queries a line.
These answer a page at once, in keyset order (`position`: an increasing
number the adapter gives each runtime-log entry and each proposal in the
order they were written), so an export holds one page in memory however
large the store is, and a page read after a write still continues where the
last one ended.

An adapter that offers them has `datasets` on its unit of work (SQLite
does); `dataset_reads` finds it, or says that this store cannot export.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from signoff.store.errors import StoreError
from signoff.store.ports import UnitOfWork
from signoff.store.records import DecisionRecord, ProposalRecord, RuntimeEntry, Vote

RunKey = tuple[str, str | None]  # (tenant, run id); None: a call of no run


@dataclass(frozen=True)
class Logged:
    """A runtime-log entry and its position in the log."""

    position: int
    entry: RuntimeEntry

    @property
    def run(self) -> RunKey:
        return (self.entry.tenant_id, self.entry.run_id)


@dataclass(frozen=True)
class Made:
    """A proposal and its position in the order proposals were made."""

    position: int
    proposal: ProposalRecord


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

    def proposals(self, proposal_ids: Sequence[str]) -> dict[str, ProposalRecord]: ...

    def decisions(self, proposal_ids: Sequence[str]) -> dict[str, list[DecisionRecord]]:
        """Each proposal's decisions, in the order they were made."""
        ...

    def votes(self, proposal_ids: Sequence[str]) -> dict[str, list[Vote]]:
        """Each proposal's votes, in the order they were cast."""
        ...


class ExportUnsupported(StoreError):
    """The store's adapter offers no batched reads for exports."""


def dataset_reads(uow: UnitOfWork) -> DatasetReads:
    reads: DatasetReads | None = getattr(uow, "datasets", None)
    if reads is None:
        raise ExportUnsupported(
            f"exports read SQLite stores only for now ({type(uow).__name__} has no batched "
            "reads): copy the database to SQLite, or export from the SQLite file it came from")
    return reads
