"""`signoff db copy`: a SQLite database moved into PostgreSQL, then checked
as the server will read it.

The copy itself is the store's (`signoff.store.copy`: one transaction, the
target empty before it). Afterwards the target is opened with the store, as
`serve` opens it, and checked: the hash chain and what refers to it (the
check `signoff audit verify` runs), the head the same event as the source's,
and every table holding as many rows as the source did.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread

from signoff.server.ops.audit import ChainReport, verify_chain
from signoff.store.copy import Copied, Progress, copy_sqlite_to_postgres, row_counts
from signoff.store.open import open_store


@dataclass(frozen=True)
class CopyReport:
    copied: Copied
    found: dict[str, int]  # rows per table in the target, counted after the commit
    chain: ChainReport

    @property
    def mismatched(self) -> dict[str, tuple[int, int]]:
        """Tables whose row counts differ: (in the source, in the target)."""
        return {name: (rows, self.found.get(name, 0))
                for name, rows in self.copied.counts.items() if self.found.get(name, 0) != rows}

    @property
    def same_head(self) -> bool:
        return (self.chain.head, self.chain.head_hash) == (self.copied.head,
                                                           self.copied.head_hash)

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.same_head and not self.mismatched

    def problems(self) -> list[str]:
        """What differs, one sentence each (none when `ok`)."""
        found = [f"{name}: {source} rows in the source, {target} in the target"
                 for name, (source, target) in self.mismatched.items()]
        if not self.chain.ok:
            found.append(f"the chain is broken at position {self.chain.broken_at}: "
                         f"{self.chain.problem}")
        elif not self.same_head:
            found.append(f"the target's head is position {self.chain.head}, the source's "
                         f"{self.copied.head}, or their hashes differ")
        return found

    def summary(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "tables": self.copied.counts,
            "rows": sum(self.copied.counts.values()),
            "head": {"position": self.copied.head, "hash": self.copied.head_hash},
            "chain_verified": self.chain.ok and self.same_head,
            "events_checked": self.chain.checked,
            "problems": self.problems(),
        }


async def copy_database(source: Path, url: str, progress: Progress) -> CopyReport:
    """Copy `source` into the empty store at `url`, then check the target.
    Raises CopyRefused (nothing written) or another StoreError."""
    copied = await anyio.to_thread.run_sync(copy_sqlite_to_postgres, source, url, progress)
    store = await open_store(url)
    try:
        chain = await store.read(verify_chain)
    finally:
        await store.close()
    found = await anyio.to_thread.run_sync(row_counts, url)
    return CopyReport(copied=copied, found=found, chain=chain)
