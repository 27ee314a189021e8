"""Errors the store raises. Messages are short and safe to show a model."""

from __future__ import annotations

from collections.abc import Sequence


class StoreError(Exception):
    """Base of everything the store raises on purpose."""


class VersionConflict(StoreError):
    """An aggregate version was already taken: someone committed first."""

    def __init__(self, aggregate_type: str, aggregate_id: str, version: int) -> None:
        super().__init__(f"{aggregate_type} {aggregate_id} already has version {version}")
        self.aggregate_id = aggregate_id
        self.version = version


class DuplicateRecord(StoreError):
    """A record with this key already exists; nothing was written. `record`
    names the kind of record, `key` the fields whose values were taken."""

    def __init__(self, record: str, key: Sequence[str], message: str | None = None) -> None:
        super().__init__(message or f"{record}: a record with this {', '.join(key)} already exists")
        self.record = record
        self.key = tuple(key)


class DuplicateVote(DuplicateRecord):
    def __init__(self, voter_id: str) -> None:
        super().__init__(
            "votes", ("proposal_id", "voter_id"), f"{voter_id} has already voted on this proposal"
        )
        self.voter_id = voter_id


class WriteInRead(StoreError):
    """A job run by `Store.read` tried to write; nothing was written."""

    def __init__(self) -> None:
        super().__init__("a read cannot write")


class ConstraintViolation(StoreError):
    """A write broke a rule the database enforces (a table is append-only, a
    field is required); nothing was written."""


class StorageFailure(StoreError):
    """The database itself failed: busy past its timeout, disk full or
    unwritable, a damaged file. The adapter's own error is the `__cause__`."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"the database failed ({detail})")


class StoreClosed(StoreError):
    def __init__(self) -> None:
        super().__init__("the store is closed")


class SchemaTooNew(StoreError):
    """The database was written by a newer signoff; refuse rather than guess."""


class GenerationSuperseded(StoreError):
    """A newer rebuild of the projection began: this one's generation will
    never go live, and it must stop rather than delete the newer one."""

    def __init__(self, projection: str, generation: int, latest: int | None) -> None:
        super().__init__(
            f"rebuild of {projection} (generation {generation}) was superseded by a newer "
            f"rebuild (generation {latest})")
        self.projection = projection
        self.generation = generation
        self.latest = latest
