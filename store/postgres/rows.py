"""Row helpers the PostgreSQL repositories share.

The encodings are SQLite's (`signoff.store.sqlite.rows`), imported rather
than copied: an event is stored column by column with its payload as the
same JSON text, a record as its `model_dump_json()`, a projection document
as the same sorted JSON, so both adapters hold byte-identical documents and
`db copy` between them changes nothing that is hashed.
"""

from __future__ import annotations

from signoff.store.sqlite.rows import (
    EVENT_COLUMNS,
    SELECT_EVENTS,
    dumps_doc,
    event_row,
    loads_doc,
    row_to_event,
)

__all__ = [
    "EVENT_COLUMNS", "SELECT_EVENTS", "dumps_doc", "event_row", "filters", "loads_doc",
    "row_to_event",
]


def filters(joiner: str = " AND ", **columns: str | None) -> tuple[str, list[str]]:
    """A WHERE clause over the given columns that are not None. Column names
    come from our own keyword arguments, never from input."""
    used = {name: value for name, value in columns.items() if value is not None}
    if not used:
        return "", []
    return "WHERE " + joiner.join(f"{name} = %s" for name in used), list(used.values())
