"""Migration V2: commits that readers wait for NOTIFY the store's channel.

Triggers notify when a statement adds events, proposal lifecycle entries,
proposals or outbox rows, changes proposals, or makes an outbox row
claimable again (retried from dead, or its lease given back without an
attempt counted). NOTIFY is transactional: PostgreSQL delivers it when the
writing transaction commits, once however many statements notified, and
never for one that rolled back. Being triggers, they notify for any writer
on any connection, signoff's own or not.

A store's channel is named after its schema, so stores in different schemas
of one database do not wake each other: `signoff_<schema>`, or
`signoff_<md5 of schema>` where that would be longer than an identifier
may be. `CHANNEL` is the rule, as SQL over a schema name, for the listener
(`notify.py`) to name the same channel.
"""

from __future__ import annotations

CHANNEL = ("CASE WHEN octet_length({schema}) <= 55 THEN 'signoff_' || {schema} "
           "ELSE 'signoff_' || md5({schema}) END")

_STATEMENT = "FOR EACH STATEMENT EXECUTE FUNCTION signoff_notify()"

V2 = f"""
CREATE FUNCTION signoff_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify({CHANNEL.format(schema="TG_TABLE_SCHEMA")}, '');
    RETURN NULL;
END $$;

CREATE TRIGGER events_wake AFTER INSERT ON events {_STATEMENT};
CREATE TRIGGER proposal_events_wake AFTER INSERT ON proposal_events {_STATEMENT};
CREATE TRIGGER proposals_wake AFTER INSERT OR UPDATE ON proposals {_STATEMENT};
CREATE TRIGGER outbox_wake AFTER INSERT ON outbox {_STATEMENT};
CREATE TRIGGER outbox_due_wake AFTER UPDATE OF status, lease_owner ON outbox FOR EACH ROW
    WHEN (NEW.status = 'pending' AND (OLD.status <> 'pending' OR (
        OLD.lease_owner IS NOT NULL AND NEW.lease_owner IS NULL
        AND NEW.attempts = OLD.attempts)))
    EXECUTE FUNCTION signoff_notify();
"""
