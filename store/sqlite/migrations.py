"""The SQLite schema's numbered migrations, V1 onwards; `schema.migrate`
applies them in order. Each is additive: a released one is never edited.

Tables that hold facts (events, proposal lifecycle, decisions, votes,
idempotency, results, the runtime log) are append-only, enforced by
triggers: a bug or a hand-typed UPDATE, DELETE or REPLACE cannot rewrite
history, on any connection.
"""

from __future__ import annotations

from signoff.store.sqlite.migration_v7 import V7
from signoff.store.sqlite.migration_v8 import V8

# APPEND_ONLY and UNIQUE_KEYS are what V1 and V3 were generated from, and so
# stay as released: V7 later dropped two of those tables (idempotency,
# command_results), whose facts now live on the proposals themselves.
APPEND_ONLY = (
    "events", "proposal_events", "decisions", "votes", "idempotency", "command_results",
    "runtime_log",
)
# Every key each append-only table keeps unique (primary key and UNIQUE
# constraints, as V1 declares them): the V3 guards refuse a row on any of them.
UNIQUE_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "events": (
        ("position",), ("event_id",),
        ("tenant_id", "aggregate_type", "aggregate_id", "aggregate_version"),
    ),
    "proposal_events": (("proposal_id", "seq"),),
    "decisions": (("decision_id",),),
    "votes": (("vote_id",), ("proposal_id", "voter_id")),
    "idempotency": (("tenant_id", "actor_id", "key"),),
    "command_results": (("seq",),),
    "runtime_log": (("entry_id",),),
}


def _append_only(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;
CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;
"""


V1 = """
CREATE TABLE events (
    position INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    aggregate_type TEXT NOT NULL,
    aggregate_id TEXT NOT NULL,
    aggregate_version INTEGER NOT NULL,
    event_type TEXT NOT NULL,
    event_version INTEGER NOT NULL,
    correlation_id TEXT,
    causation_id TEXT,
    run_id TEXT,
    thread_id TEXT,
    actor_type TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    payload_schema TEXT NOT NULL,
    payload TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    UNIQUE (tenant_id, aggregate_type, aggregate_id, aggregate_version)
);
CREATE INDEX events_by_aggregate_id ON events (aggregate_id, position);

CREATE TABLE proposals (
    proposal_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    command_type TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    run_id TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX proposals_by_status ON proposals (tenant_id, status, created_at);
CREATE INDEX proposals_pending_expiry ON proposals (expires_at) WHERE status = 'pending_approval';
CREATE INDEX proposals_by_run ON proposals (tenant_id, run_id);
CREATE INDEX proposals_by_actor ON proposals (tenant_id, actor_id, created_at);

CREATE TABLE proposal_events (
    proposal_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    tenant_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (proposal_id, seq)
);

CREATE TABLE decisions (
    decision_id TEXT PRIMARY KEY,
    proposal_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX decisions_by_proposal ON decisions (proposal_id);

CREATE TABLE votes (
    vote_id TEXT PRIMARY KEY,
    proposal_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    voter_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    UNIQUE (proposal_id, voter_id)
);

CREATE TABLE idempotency (
    tenant_id TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    key TEXT NOT NULL,
    payload_digest TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    PRIMARY KEY (tenant_id, actor_id, key)
);

CREATE TABLE command_results (
    command_id TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    seq INTEGER PRIMARY KEY,
    doc TEXT NOT NULL
);
CREATE INDEX command_results_by_proposal ON command_results (proposal_id);

CREATE TABLE outbox (
    position INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    aggregate_id TEXT,
    correlation_id TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error TEXT,
    published_at TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at, position);
CREATE INDEX outbox_by_correlation ON outbox (correlation_id);

CREATE TABLE inbox (
    consumer TEXT NOT NULL,
    message_id TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    PRIMARY KEY (consumer, message_id)
);

CREATE TABLE checkpoints (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);

CREATE TABLE read_models (
    projection TEXT NOT NULL,
    generation INTEGER NOT NULL,
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    ix TEXT,
    doc TEXT NOT NULL,
    PRIMARY KEY (projection, generation, tenant_id, key)
);
CREATE INDEX read_models_by_index ON read_models (projection, generation, tenant_id, ix);

CREATE TABLE projection_generations (
    projection TEXT PRIMARY KEY,
    active INTEGER NOT NULL,
    latest INTEGER NOT NULL
);

CREATE TABLE runtime_log (
    entry_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    run_id TEXT,
    correlation_id TEXT,
    proposal_id TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX runtime_by_run ON runtime_log (run_id);
CREATE INDEX runtime_by_correlation ON runtime_log (correlation_id);
CREATE INDEX runtime_by_proposal ON runtime_log (proposal_id);
""" + "".join(_append_only(t) for t in APPEND_ONLY)

# V2: outbox leases, so two relays never publish one row at the same time
# (a relay claims rows by writing its owner id and an expiry in one write
# transaction); a partial index over the rows still to deliver; and lookups by
# correlation id for the causal trace (`signoff trace`).
V2 = """
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_until TEXT;
CREATE INDEX outbox_pending ON outbox (position) WHERE status = 'pending';
CREATE INDEX outbox_by_causation ON outbox (json_extract(doc, '$.causation_id'));
CREATE INDEX proposals_by_correlation ON proposals (json_extract(doc, '$.correlation_id'));
CREATE INDEX inbox_by_message ON inbox (message_id);
"""



def _refuse_taken_key(table: str, key: tuple[str, ...]) -> str:
    # Names come from UNIQUE_KEYS, never from input. The message is parsed
    # back into DuplicateRecord (store/sqlite/sql.py).
    taken = " AND ".join(f"{c} = NEW.{c}" for c in key)
    refusal = f"{table} is append-only: a row with this {', '.join(key)} exists"
    return (
        f"\nCREATE TRIGGER {table}_keeps_{'_'.join(key)} BEFORE INSERT ON {table}\n"  # noqa: S608
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {taken})\n"
        f"BEGIN SELECT RAISE(ABORT, '{refusal}'); END;\n"
    )


# V3: REPLACE (INSERT OR REPLACE, REPLACE INTO) resolves a key conflict by
# deleting the old row, and SQLite fires no DELETE trigger for that unless the
# connection turned recursive_triggers on: any sqlite3 shell could rewrite a
# vote. A guard on INSERT that refuses a row whose key is taken holds on every
# connection, whatever its pragmas. (UPSERT's DO UPDATE fires the UPDATE
# trigger, and now meets the guard first.)
V3 = "".join(
    _refuse_taken_key(table, key) for table, keys in UNIQUE_KEYS.items() for key in keys
)

# V4: the web console's sessions, server-side so that signing out, removing
# a principal or rotating its token ends them in every console process. The
# browser's cookie holds a random id; the table only its sha256. Mutable on
# purpose (touched on activity, revoked once), so not append-only.
V4 = """
CREATE TABLE console_sessions (
    session_hash TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL,
    credential TEXT,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_reason TEXT,
    state TEXT NOT NULL
);
CREATE INDEX console_sessions_live ON console_sessions (principal_id) WHERE revoked_at IS NULL;
CREATE INDEX console_sessions_by_last_seen ON console_sessions (last_seen_at);
"""

# V5: the rate limits' counters, kept rather than counted (a COUNT over the
# proposals of the last hour ran inside the writer on every command). Per
# principal across all tenants: proposals per run id ('' for none), and per
# minute since the epoch, the last hour being the newest 61 minutes (see
# rate_counters.py). Backfilled from the proposals already there; minutes only
# for the hour before the newest one, as older ones are never read.
V5 = """
CREATE TABLE proposal_counts_by_run (
    principal_id TEXT NOT NULL,
    run_id TEXT NOT NULL,
    proposals INTEGER NOT NULL,
    PRIMARY KEY (principal_id, run_id)
) WITHOUT ROWID;
CREATE TABLE proposal_counts_by_minute (
    principal_id TEXT NOT NULL,
    minute INTEGER NOT NULL,
    proposals INTEGER NOT NULL,
    PRIMARY KEY (principal_id, minute)
) WITHOUT ROWID;
INSERT INTO proposal_counts_by_run (principal_id, run_id, proposals)
SELECT actor_id, COALESCE(run_id, ''), COUNT(*) FROM proposals GROUP BY 1, 2;
INSERT INTO proposal_counts_by_minute (principal_id, minute, proposals)
SELECT actor_id, minute, COUNT(*) FROM (
    SELECT actor_id, CAST(strftime('%s', substr(created_at, 1, 16)) AS INTEGER) / 60 AS minute
    FROM proposals
) WHERE minute >= (
    SELECT CAST(strftime('%s', substr(MAX(created_at), 1, 16)) AS INTEGER) / 60 - 60
    FROM proposals
) GROUP BY 1, 2;
"""

# V6: finding the proposal a command id belongs to (an upstream call's facts
# name the command that caused them).
V6 = """
CREATE INDEX proposals_by_command ON proposals (json_extract(doc, '$.command_id'));
"""

MIGRATIONS: tuple[str, ...] = (V1, V2, V3, V4, V5, V6, V7, V8)
