"""The privileges a role that only runs signoff needs, and no more.

The triggers refuse to rewrite history on any connection, but whoever owns
the tables can drop a trigger. A role that `serve`, `relay` and `console`
connect as, granted only what is below, cannot: it may add facts (INSERT)
and read them, never UPDATE or DELETE them, nor alter, drop or truncate
anything. Proposals change status but are never deleted; the bookkeeping
tables (outbox leases, checkpoints, read models, counters, sessions) are
fully writable. The schema's owner migrates; this role only finds it current.
"""

from __future__ import annotations

from psycopg import sql

from signoff.store.postgres.admin import tables
from signoff.store.postgres.connection import connect
from signoff.store.postgres.migrations import APPEND_ONLY
from signoff.store.postgres.sql import translated
from signoff.store.postgres.url import schema_of

FACTS = frozenset(APPEND_ONLY)
NEVER_DELETED = frozenset({"proposals"})
READ_ONLY = frozenset({"signoff_schema"})


def privileges(table: str) -> tuple[str, ...]:
    """What the role may do on one of signoff's tables."""
    if table in READ_ONLY:
        return ("SELECT",)
    if table in FACTS:
        return ("SELECT", "INSERT")
    if table in NEVER_DELETED:
        return ("SELECT", "INSERT", "UPDATE")
    return ("SELECT", "INSERT", "UPDATE", "DELETE")


def grant_statements(role: str, schema: str) -> list[sql.Composed]:
    """The GRANTs, after revoking whatever the role held on these tables."""
    who, where = sql.Identifier(role), sql.Identifier(schema)
    out = [sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(where, who)]
    for table in tables():
        name = sql.Identifier(schema, table)
        out.append(sql.SQL("REVOKE ALL ON {} FROM {}").format(name, who))
        out.append(sql.SQL("GRANT {} ON {} TO {}").format(
            sql.SQL(", ").join(sql.SQL(p) for p in privileges(table)), name, who))
    out.append(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
        where, who))
    return out


def grant(url: str, role: str) -> list[str]:
    """Grant `role` what signoff needs on the store at `url` (connected as the
    tables' owner); returns the statements as run."""
    with translated(), connect(url) as conn:
        row = conn.execute("SELECT current_schema()").fetchone()
        schema = schema_of(url) or (str(row[0]) if row and row[0] else "public")
        statements = grant_statements(role, schema)
        with conn.transaction():
            for statement in statements:
                conn.execute(statement)
        return [statement.as_string(conn) for statement in statements]
