"""`Proposals` on four tables: proposals (current state, the one that
changes, its idempotency key a unique column), and the append-only
lifecycle stream, decisions and votes.

Across processes: `replace` is a compare-and-set (an UPDATE whose WHERE
names the expected status: of two executors the second waits for the
first's row lock, finds the status moved and changes nothing), and a
lifecycle event takes the next number in one statement that retries when
another transaction took it first. Decisions, votes and proposals are
numbered by identity columns, which order them as `rowid` does on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from signoff.store.errors import DuplicateRecord, DuplicateVote, StorageFailure
from signoff.store.postgres.rows import filters
from signoff.store.postgres.sql import PgSql
from signoff.store.records import DecisionRecord, ProposalEvent, ProposalRecord, Vote

_PROPOSAL_KEYS = (("proposal_id",), ("tenant_id", "actor_id", "idempotency_key"))
_SEQ = '"seq":0'
_TRIES = 100


def _record(row: tuple[Any, ...] | None) -> ProposalRecord | None:
    return ProposalRecord.model_validate_json(row[0]) if row else None


class PostgresProposals:
    def __init__(self, db: PgSql) -> None:
        self._db = db

    def add(self, proposal: ProposalRecord) -> None:
        p = proposal
        self._db.insert_once(
            "INSERT INTO proposals (proposal_id, tenant_id, status, command_type, actor_id, "
            "run_id, command_id, correlation_id, idempotency_key, created_at, expires_at, "
            "event_ids, doc) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            (p.proposal_id, p.tenant_id, p.status, p.command_type, p.actor.id, p.run_id,
             p.command_id, p.correlation_id, p.idempotency_key, p.created_at, p.expires_at,
             list(p.event_ids), p.model_dump_json()),
            table="proposals", keys=_PROPOSAL_KEYS,
            values={"proposal_id": p.proposal_id, "tenant_id": p.tenant_id,
                    "actor_id": p.actor.id, "idempotency_key": p.idempotency_key},
        )

    def by_idempotency_key(
        self, tenant_id: str, actor_id: str, key: str
    ) -> ProposalRecord | None:
        return _record(self._db.one(
            "SELECT doc FROM proposals WHERE tenant_id = %s AND actor_id = %s "
            "AND idempotency_key = %s",
            (tenant_id, actor_id, key),
        ))

    def get(self, proposal_id: str, tenant_id: str | None) -> ProposalRecord | None:
        if "\x00" in proposal_id:  # PostgreSQL text cannot hold it: no proposal has it
            return None
        if tenant_id is None:
            return _record(self._db.one(
                "SELECT doc FROM proposals WHERE proposal_id = %s", (proposal_id,)))
        return _record(self._db.one(
            "SELECT doc FROM proposals WHERE proposal_id = %s AND tenant_id = %s",
            (proposal_id, tenant_id),
        ))

    def claim(self, proposal_id: str, tenant_id: str | None) -> ProposalRecord | None:
        """`get`, the row locked (FOR UPDATE) until the job's transaction
        ends: jobs changing one proposal run one after the other, and each
        reads what the one before committed (at READ COMMITTED the locking
        read sees the latest committed version). In a read, plain `get`."""
        if self._db.read_only or "\x00" in proposal_id:
            return self.get(proposal_id, tenant_id)
        if tenant_id is None:
            return _record(self._db.one(
                "SELECT doc FROM proposals WHERE proposal_id = %s FOR UPDATE", (proposal_id,)))
        return _record(self._db.one(
            "SELECT doc FROM proposals WHERE proposal_id = %s AND tenant_id = %s FOR UPDATE",
            (proposal_id, tenant_id),
        ))

    def replace(self, proposal: ProposalRecord, *, expected_status: str) -> bool:
        cur = self._db.run(
            "UPDATE proposals SET status = %s, expires_at = %s, event_ids = %s, doc = %s "
            "WHERE proposal_id = %s AND status = %s",
            (proposal.status, proposal.expires_at, list(proposal.event_ids),
             proposal.model_dump_json(), proposal.proposal_id, expected_status),
        )
        return cur.rowcount == 1

    def find(
        self,
        *,
        tenant_id: str | None = None,
        status: str | None = None,
        command_type: str | None = None,
        limit: int = 100,
    ) -> list[ProposalRecord]:
        where, args = filters(tenant_id=tenant_id, status=status, command_type=command_type)
        rows = self._db.all(
            f"SELECT doc FROM proposals {where} ORDER BY created_at, proposal_id LIMIT %s",  # noqa: S608
            (*args, limit),
        )
        return [ProposalRecord.model_validate_json(r[0]) for r in rows]

    def due_for_expiry(self, now: datetime, limit: int = 500) -> list[ProposalRecord]:
        # Claimed as `claim` does; one another job holds is left for a later sweep.
        lock = "" if self._db.read_only else " FOR UPDATE SKIP LOCKED"
        rows = self._db.all(
            "SELECT doc FROM proposals WHERE status = 'pending_approval' "  # noqa: S608
            f"AND expires_at <= %s ORDER BY expires_at LIMIT %s{lock}",
            (now, limit),
        )
        return [ProposalRecord.model_validate_json(r[0]) for r in rows]

    def by_correlation(self, correlation_id: str, limit: int = 500) -> list[ProposalRecord]:
        rows = self._db.all(
            "SELECT doc FROM proposals WHERE correlation_id = %s "
            "ORDER BY created_at, proposal_id LIMIT %s",
            (correlation_id, limit),
        )
        return [ProposalRecord.model_validate_json(r[0]) for r in rows]

    def by_command(self, command_id: str, tenant_id: str) -> ProposalRecord | None:
        return _record(self._db.one(
            "SELECT doc FROM proposals WHERE command_id = %s AND tenant_id = %s",
            (command_id, tenant_id),
        ))

    def decided_since(
        self, since: datetime, *, tenant_id: str | None = None, after: str | None = None,
        limit: int = 1000,
    ) -> list[tuple[ProposalRecord, DecisionRecord]]:
        where = ["p.created_at >= %s"]
        args: list[Any] = [since]
        if tenant_id is not None:
            where.append("p.tenant_id = %s")
            args.append(tenant_id)
        if after is not None:  # keyset paging: (created_at, id) after the last row seen
            where.append("(p.created_at, p.proposal_id) > "
                         "((SELECT created_at FROM proposals WHERE proposal_id = %s), %s)")
            args += [after, after]
        # Each proposal's first decision; `where` holds only the fixed clauses above.
        query = (
            "SELECT p.doc, d.doc FROM proposals AS p CROSS JOIN LATERAL ("  # noqa: S608
            "SELECT doc FROM decisions WHERE proposal_id = p.proposal_id ORDER BY seq LIMIT 1"
            f") AS d WHERE {' AND '.join(where)} ORDER BY p.created_at, p.proposal_id LIMIT %s")
        rows = self._db.all(query, (*args, limit))
        return [(ProposalRecord.model_validate_json(p), DecisionRecord.model_validate_json(d))
                for p, d in rows]

    def unlogged_events(self, limit: int = 10) -> list[tuple[str, str]]:
        # Every proposal, whatever its status says: a tamperer may change that too.
        rows = self._db.all(
            "SELECT p.proposal_id, ref.event_id FROM proposals AS p "
            "CROSS JOIN LATERAL unnest(p.event_ids) WITH ORDINALITY AS ref (event_id, n) "
            "WHERE NOT EXISTS (SELECT 1 FROM events WHERE event_id = ref.event_id) "
            "ORDER BY p.seq, ref.n LIMIT %s",
            (limit,),
        )
        return [(str(proposal_id), str(event_id)) for proposal_id, event_id in rows]

    # -- history: append-only ------------------------------------------------

    def add_event(self, event: ProposalEvent) -> ProposalEvent:
        # The next seq is found and written into the row and its document in
        # one statement. The document is dumped with seq 0 and cut around it:
        # seq follows the two id strings, so its first `"seq":0` is the field
        # (a quote inside a JSON string is escaped and cannot end a key).
        doc = (event if event.seq == 0 else event.model_copy(update={"seq": 0})).model_dump_json()
        cut = doc.index(_SEQ) + len(_SEQ) - 1
        for _ in range(_TRIES):  # ON CONFLICT: another transaction took this seq
            row = self._db.one(
                "INSERT INTO proposal_events (proposal_id, seq, tenant_id, doc) "
                "SELECT %s, n, %s, %s::text || n || %s::text FROM ("
                "SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM proposal_events "
                "WHERE proposal_id = %s) AS next "
                "ON CONFLICT DO NOTHING RETURNING seq",
                (event.proposal_id, event.tenant_id, doc[:cut], doc[cut + 1:],
                 event.proposal_id),
            )
            if row is not None:
                return event.model_copy(update={"seq": int(row[0])})
        raise StorageFailure("proposal_events: no free seq")

    def add_first_events(self, events: Sequence[ProposalEvent]) -> list[ProposalEvent]:
        # No MAX(seq): the proposal is new. NOT EXISTS keeps it all or nothing
        # against committed entries, ON CONFLICT against concurrent ones, so a
        # taken seq leaves the transaction usable.
        numbered = [e.model_copy(update={"seq": n}) for n, e in enumerate(events, 1)]
        if not numbered:
            return []
        rows = ", ".join(["(%s, %s::bigint, %s, %s)"] * len(numbered))
        inserted = self._db.run(
            "INSERT INTO proposal_events (proposal_id, seq, tenant_id, doc) "  # noqa: S608
            f"SELECT * FROM (VALUES {rows}) AS v WHERE NOT EXISTS ("
            "SELECT 1 FROM proposal_events WHERE proposal_id = %s) ON CONFLICT DO NOTHING",
            [*(v for e in numbered
               for v in (e.proposal_id, e.seq, e.tenant_id, e.model_dump_json())),
             numbered[0].proposal_id],
        ).rowcount
        if inserted != len(numbered):
            raise DuplicateRecord("proposal_events", ("proposal_id", "seq"))
        return numbered

    def events(self, proposal_id: str) -> list[ProposalEvent]:
        rows = self._db.all(
            "SELECT doc FROM proposal_events WHERE proposal_id = %s ORDER BY seq", (proposal_id,)
        )
        return [ProposalEvent.model_validate_json(r[0]) for r in rows]

    def add_decision(self, decision: DecisionRecord) -> None:
        self._db.insert_once(
            "INSERT INTO decisions (decision_id, proposal_id, tenant_id, doc) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (decision.decision_id, decision.proposal_id, decision.tenant_id,
             decision.model_dump_json()),
            table="decisions", keys=[("decision_id",)],
            values={"decision_id": decision.decision_id},
        )

    def decisions(self, proposal_id: str) -> list[DecisionRecord]:
        rows = self._db.all(
            "SELECT doc FROM decisions WHERE proposal_id = %s ORDER BY seq", (proposal_id,)
        )
        return [DecisionRecord.model_validate_json(r[0]) for r in rows]

    def add_vote(self, vote: Vote) -> None:
        try:
            self._db.insert_once(
                "INSERT INTO votes (vote_id, proposal_id, tenant_id, voter_id, doc) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (vote.vote_id, vote.proposal_id, vote.tenant_id, vote.voter_id,
                 vote.model_dump_json()),
                table="votes", keys=[("vote_id",), ("proposal_id", "voter_id")],
                values={"vote_id": vote.vote_id, "proposal_id": vote.proposal_id,
                        "voter_id": vote.voter_id},
            )
        except DuplicateRecord as exc:
            if "voter_id" not in exc.key:
                raise
            raise DuplicateVote(vote.voter_id) from exc

    def votes(self, proposal_id: str) -> list[Vote]:
        rows = self._db.all(
            "SELECT doc FROM votes WHERE proposal_id = %s ORDER BY seq", (proposal_id,)
        )
        return [Vote.model_validate_json(r[0]) for r in rows]
