"""The PostgreSQL schema's numbered migrations, V1 onwards; `schema.migrate`
applies them in order. Each is additive: a released one is never edited.

V1 is SQLite's schema as it stands after its V7 (the lean write path), not
its history: idempotency keys live on the proposals, a command's result is
its final proposal, and what is looked up has a real column (no JSON is
parsed in SQL, so a document holding any text at all never breaks a query).
Documents are kept as the exact JSON text their records serialise to, in
`text` columns; instants that SQL compares are `timestamptz`.

Tables that hold facts are append-only, enforced by triggers that refuse
UPDATE, DELETE and TRUNCATE on any connection; a final proposal refuses
every change, and no proposal is ever deleted.

V2 (`migration_v2.py`) makes commits that readers wait for notify the
store's channel, for the listeners of every process. V3 (`migration_v3.py`)
gives documents a search text and its full-text index.
"""

from __future__ import annotations

from signoff.store.postgres.migration_v2 import V2
from signoff.store.postgres.migration_v3 import V3

APPEND_ONLY = ("events", "proposal_events", "decisions", "votes", "runtime_log")
FINAL = "('executed', 'rejected', 'expired', 'conflict', 'failed', 'withdrawn')"


def _refuse(table: str, what: str, message: str) -> str:
    """A trigger on `table` that refuses `what` (UPDATE, DELETE, TRUNCATE...)."""
    level = "STATEMENT" if what == "TRUNCATE" else "ROW"
    name = f"{table}_no_{what.split()[0].lower()}"
    return (f"CREATE TRIGGER {name} BEFORE {what} ON {table} FOR EACH {level} "
            f"EXECUTE FUNCTION signoff_refuse('{message}');\n")


def _append_only(table: str) -> str:
    message = f"{table} is append-only"
    return _refuse(table, "UPDATE OR DELETE", message) + _refuse(table, "TRUNCATE", message)


V1 = """
CREATE FUNCTION signoff_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation';
END $$;

CREATE TABLE events (
    position bigint PRIMARY KEY,
    event_id text NOT NULL UNIQUE,
    tenant_id text NOT NULL,
    aggregate_type text NOT NULL,
    aggregate_id text NOT NULL,
    aggregate_version bigint NOT NULL,
    event_type text NOT NULL,
    event_version bigint NOT NULL,
    correlation_id text,
    causation_id text,
    run_id text,
    thread_id text,
    actor_type text NOT NULL,
    actor_id text NOT NULL,
    payload_schema text NOT NULL,
    payload text NOT NULL,
    occurred_at text NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL,
    UNIQUE (tenant_id, aggregate_type, aggregate_id, aggregate_version)
);
CREATE INDEX events_by_aggregate_id ON events (aggregate_id, position);

CREATE TABLE proposals (
    proposal_id text PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id text NOT NULL,
    status text NOT NULL,
    command_type text NOT NULL,
    actor_id text NOT NULL,
    run_id text,
    command_id text NOT NULL,
    correlation_id text NOT NULL,
    idempotency_key text,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    event_ids text[] NOT NULL,
    doc text NOT NULL
);
CREATE INDEX proposals_by_status ON proposals (tenant_id, status, created_at);
CREATE INDEX proposals_by_created_at ON proposals (created_at, proposal_id);
CREATE INDEX proposals_pending_expiry ON proposals (expires_at) WHERE status = 'pending_approval';
CREATE INDEX proposals_by_correlation ON proposals (correlation_id);
CREATE INDEX proposals_by_command ON proposals (command_id);
CREATE UNIQUE INDEX proposals_by_idempotency_key ON proposals (tenant_id, actor_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE proposal_events (
    proposal_id text NOT NULL,
    seq bigint NOT NULL,
    tenant_id text NOT NULL,
    doc text NOT NULL,
    PRIMARY KEY (proposal_id, seq)
);

CREATE TABLE decisions (
    decision_id text PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    proposal_id text NOT NULL,
    tenant_id text NOT NULL,
    doc text NOT NULL
);
CREATE INDEX decisions_by_proposal ON decisions (proposal_id, seq);

CREATE TABLE votes (
    vote_id text PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    proposal_id text NOT NULL,
    tenant_id text NOT NULL,
    voter_id text NOT NULL,
    doc text NOT NULL,
    UNIQUE (proposal_id, voter_id)
);

CREATE TABLE outbox (
    position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id text NOT NULL UNIQUE,
    tenant_id text NOT NULL,
    topic text NOT NULL,
    aggregate_id text,
    correlation_id text,
    causation_id text,
    order_group text,
    event_position bigint,
    event_hash text,
    status text NOT NULL DEFAULT 'pending',
    attempts bigint NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error text,
    published_at timestamptz,
    lease_owner text,
    lease_until timestamptz,
    doc text NOT NULL
);
CREATE INDEX outbox_pending ON outbox (position) WHERE status = 'pending';
CREATE INDEX outbox_dead ON outbox (tenant_id, aggregate_id, position) WHERE status = 'dead';
CREATE INDEX outbox_by_status ON outbox (status, position);
CREATE INDEX outbox_by_correlation ON outbox (correlation_id, position);
CREATE INDEX outbox_by_causation ON outbox (causation_id, position);

CREATE TABLE inbox (
    consumer text NOT NULL,
    message_id text NOT NULL,
    processed_at timestamptz NOT NULL,
    PRIMARY KEY (consumer, message_id)
);
CREATE INDEX inbox_by_message ON inbox (message_id);

CREATE TABLE checkpoints (
    name text PRIMARY KEY,
    position bigint NOT NULL
);

CREATE TABLE read_models (
    projection text NOT NULL,
    generation bigint NOT NULL,
    tenant_id text NOT NULL,
    key text NOT NULL,
    ix text,
    doc text NOT NULL,
    PRIMARY KEY (projection, generation, tenant_id, key)
);
CREATE INDEX read_models_by_index ON read_models (projection, generation, tenant_id, ix, key);

CREATE TABLE projection_generations (
    projection text PRIMARY KEY,
    active bigint NOT NULL,
    latest bigint NOT NULL
);

CREATE TABLE runtime_log (
    entry_id text PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id text NOT NULL,
    run_id text,
    correlation_id text,
    proposal_id text,
    doc text NOT NULL
);
CREATE INDEX runtime_by_run ON runtime_log (run_id, seq);
CREATE INDEX runtime_by_correlation ON runtime_log (correlation_id, seq);
CREATE INDEX runtime_by_proposal ON runtime_log (proposal_id, seq);

CREATE TABLE console_sessions (
    session_hash text PRIMARY KEY,
    principal_id text NOT NULL,
    credential text,
    created_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text,
    state text NOT NULL
);
CREATE INDEX console_sessions_live ON console_sessions (principal_id) WHERE revoked_at IS NULL;
CREATE INDEX console_sessions_by_last_seen ON console_sessions (last_seen_at);

CREATE TABLE proposal_counts_by_run (
    principal_id text NOT NULL,
    run_id text NOT NULL,
    proposals bigint NOT NULL,
    PRIMARY KEY (principal_id, run_id)
);
CREATE TABLE proposal_counts_by_minute (
    principal_id text NOT NULL,
    minute bigint NOT NULL,
    proposals bigint NOT NULL,
    PRIMARY KEY (principal_id, minute)
);
""" + "".join(_append_only(t) for t in APPEND_ONLY) + f"""
CREATE TRIGGER proposals_keep_identity BEFORE UPDATE OF proposal_id, tenant_id, command_type,
    actor_id, run_id, command_id, correlation_id, idempotency_key, created_at ON proposals
    FOR EACH ROW EXECUTE FUNCTION signoff_refuse(
        'proposals: a proposal''s identity and idempotency key never change');
CREATE TRIGGER proposals_final_is_final BEFORE UPDATE ON proposals
    FOR EACH ROW WHEN (OLD.status IN {FINAL})
    EXECUTE FUNCTION signoff_refuse('proposals: a final proposal never changes');
""" + _refuse("proposals", "DELETE", "proposals: a proposal is never deleted") + _refuse(
    "proposals", "TRUNCATE", "proposals: a proposal is never deleted")

MIGRATIONS: tuple[str, ...] = (V1, V2, V3)
