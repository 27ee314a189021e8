"""V7, the lean write path (issue 13): fewer rows and real columns.

- The idempotency key lives on the proposal it names (a unique index over
  tenant, principal and key) instead of a table of its own: one row and one
  statement less per command, and the lookup is one index probe.
- The command result is the final proposal itself (status, reason, event
  ids, the instant it became final), so its table goes; what made it worth
  keeping apart, that it could not change, the database now enforces on the
  proposal: a final proposal refuses every UPDATE, and the columns that
  identify a proposal and its key never change.
  REPLACE would delete and re-insert a row without firing either trigger,
  so an insert whose proposal id is taken is refused too (as V3 does for
  the append-only tables).
- Lookups by correlation id, command id and an outbox message's causation
  read real columns, not `json_extract` over the document; two indexes
  nothing reads (by run, by actor) go.

Both dropped tables' facts are already in the proposals' documents (the
proposal is written with its key, digest and final status), so nothing is
lost: the columns are filled from those documents before the tables go.
"""

from __future__ import annotations

# The final statuses are spelled out (records.FINAL_STATUSES): a released
# migration never changes, whatever the code later calls final.
V7 = """
ALTER TABLE proposals ADD COLUMN command_id TEXT;
ALTER TABLE proposals ADD COLUMN correlation_id TEXT;
ALTER TABLE proposals ADD COLUMN idempotency_key TEXT;
UPDATE proposals SET command_id = json_extract(doc, '$.command_id'),
    correlation_id = json_extract(doc, '$.correlation_id'),
    idempotency_key = json_extract(doc, '$.idempotency_key');
DROP INDEX proposals_by_correlation;
DROP INDEX proposals_by_command;
DROP INDEX proposals_by_run;
DROP INDEX proposals_by_actor;
CREATE INDEX proposals_by_correlation ON proposals (correlation_id);
CREATE INDEX proposals_by_command ON proposals (command_id);
CREATE UNIQUE INDEX proposals_by_idempotency_key ON proposals (tenant_id, actor_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
DROP TABLE idempotency;
DROP TABLE command_results;
CREATE TRIGGER proposals_keep_identity BEFORE UPDATE OF proposal_id, tenant_id, command_type,
    actor_id, run_id, created_at, command_id, correlation_id, idempotency_key ON proposals
BEGIN SELECT RAISE(ABORT, 'proposals: a proposal''s identity and idempotency key never change');
END;
CREATE TRIGGER proposals_final_is_final BEFORE UPDATE ON proposals WHEN OLD.status IN
    ('executed', 'rejected', 'expired', 'conflict', 'failed', 'withdrawn')
BEGIN SELECT RAISE(ABORT, 'proposals: a final proposal never changes'); END;
CREATE TRIGGER proposals_no_delete BEFORE DELETE ON proposals
BEGIN SELECT RAISE(ABORT, 'proposals: a proposal is never deleted'); END;
CREATE TRIGGER proposals_keeps_proposal_id BEFORE INSERT ON proposals
WHEN EXISTS (SELECT 1 FROM proposals WHERE proposal_id = NEW.proposal_id)
BEGIN SELECT RAISE(ABORT, 'proposals: a row with this proposal_id exists'); END;
ALTER TABLE outbox ADD COLUMN causation_id TEXT;
UPDATE outbox SET causation_id = json_extract(doc, '$.causation_id');
DROP INDEX outbox_by_causation;
CREATE INDEX outbox_by_causation ON outbox (causation_id);
"""
