"""Errors the store raises. Messages are short and safe to show a model."""

from __future__ import annotations


class StoreError(Exception):
    """Base of everything the store raises on purpose."""


class VersionConflict(StoreError):
    """An aggregate version was already taken: someone committed first."""

    def __init__(self, aggregate_type: str, aggregate_id: str, version: int) -> None:
        super().__init__(f"{aggregate_type} {aggregate_id} already has version {version}")
        self.aggregate_id = aggregate_id
        self.version = version


class DuplicateVote(StoreError):
    def __init__(self, voter_id: str) -> None:
        super().__init__(f"{voter_id} has already voted on this proposal")


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
